# What cmake/EmbedLua.cmake and cmake/EmbedWeb.cmake share (cmake -P scripts that turn files
# into C byte arrays at build time).

# embed_array(<name> <hex> <out>): appends to <out> a NUL-terminated C array <name> of the
# bytes that <hex> (file(READ ... HEX)) spells, 16 a line; sets <out>_BYTES to their count.
function(embed_array name hex out)
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 row) # CMake's regex has no {n}
  string(LENGTH "${hex}" digits)
  math(EXPR bytes "${digits} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(${row})" "\\1\n" hex "${hex}")
  set(${out} "${${out}}static const char ${name}[${bytes} + 1] = {\n${hex}0\n};\n" PARENT_SCOPE)
  set(${out}_BYTES ${bytes} PARENT_SCOPE)
endfunction()

# embed_finish(<text> <macro> <entries> <path>): appends the table's initialisers as the
# macro <macro> and writes <path>, only on change, so unchanged inputs rebuild nothing.
function(embed_finish text macro entries path)
  string(APPEND text "#define ${macro} \\\n")
  string(REPLACE "\n" " \\\n" entries "${entries}")
  string(APPEND text "${entries}\n")
  if(EXISTS "${path}")
    file(READ "${path}" old)
    if(old STREQUAL text)
      return()
    endif()
  endif()
  file(WRITE "${path}" "${text}")
endfunction()
