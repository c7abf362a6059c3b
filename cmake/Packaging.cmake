# Packages: .deb (Debian 12) and .rpm, built by CPack.
#
#   cmake -S . -B build-pkg -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCPCHAT_TESTS=OFF
#   cmake --build build-pkg -j"$(nproc)"
#   (cd build-pkg && cpack -G DEB && cpack -G RPM)
#
# Both install into /usr (CPACK_PACKAGING_INSTALL_PREFIX), the configuration into
# /etc/mcp-chat. Besides the binaries, man pages and completion installed by CMakeLists.txt,
# this adds the configuration, the systemd unit, the sysusers.d and tmpfiles.d snippets and the
# documentation each package format expects; see README.md "Install and run as a service".

get_filename_component(MCPCHAT_TOP ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(MCPCHAT_PKG_DIR ${MCPCHAT_TOP}/packaging)
set(MCPCHAT_SYSTEMD_DIR ${MCPCHAT_TOP}/systemd)

# --- Files ------------------------------------------------------------------------------------

# The configuration: /etc/mcp-chat whatever the prefix, as the unit and mcp-chatd(8) say
# (an absolute destination still honours DESTDIR).
install(FILES ${MCPCHAT_PKG_DIR}/mcp-chat.conf DESTINATION /etc/mcp-chat
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# systemd: relative to the prefix, so /usr/lib/... in the packages.
install(FILES ${MCPCHAT_SYSTEMD_DIR}/mcp-chat.service DESTINATION lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${MCPCHAT_SYSTEMD_DIR}/mcp-chat.sysusers DESTINATION lib/sysusers.d
        RENAME mcp-chat.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${MCPCHAT_SYSTEMD_DIR}/mcp-chat.tmpfiles DESTINATION lib/tmpfiles.d
        RENAME mcp-chat.conf PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# Man pages compressed with gzip -9n, as Debian policy asks (rpmbuild would do it too). This
# runs after the rules in CMakeLists.txt that install them uncompressed, at every install.
set(_mcpchat_gzip_man [[
  foreach(page man1/mcpchatctl.1 man8/mcp-chatd.8)
    set(p "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/@MANDIR@/${page}")
    if(EXISTS "${p}")
      execute_process(COMMAND gzip -9nf "${p}" RESULT_VARIABLE rc)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR "gzip ${p} failed")
      endif()
      message(STATUS "Compressed: ${p}.gz")
    endif()
  endforeach()
]])
string(REPLACE "@MANDIR@" "${CMAKE_INSTALL_MANDIR}" _mcpchat_gzip_man "${_mcpchat_gzip_man}")
install(CODE "${_mcpchat_gzip_man}")

# Documentation that differs per format: the Debian copyright and changelog.Debian.gz for the
# .deb, the licence for the .rpm. Each set is its own component; the CPack project config file
# below picks one per generator.
set(MCPCHAT_DEB_RELEASE 1)
set(MCPCHAT_DEB_VERSION ${PROJECT_VERSION}-${MCPCHAT_DEB_RELEASE})
configure_file(${MCPCHAT_PKG_DIR}/deb/changelog.in ${CMAKE_BINARY_DIR}/packaging/changelog.Debian @ONLY)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
  COMMAND gzip -9nc ${CMAKE_BINARY_DIR}/packaging/changelog.Debian > ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
  DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.Debian
  VERBATIM)
add_custom_target(mcpchat_pkg_docs ALL DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz)
install(FILES ${MCPCHAT_PKG_DIR}/deb/copyright ${CMAKE_BINARY_DIR}/packaging/changelog.Debian.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/mcp-chat COMPONENT debian-doc
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ EXCLUDE_FROM_ALL)
# Not a package for Debian's archive: there is no ITP bug to close.
install(FILES ${MCPCHAT_PKG_DIR}/deb/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides
        RENAME mcp-chat COMPONENT debian-doc
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ EXCLUDE_FROM_ALL)
install(FILES ${MCPCHAT_TOP}/LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/licenses/mcp-chat
        COMPONENT rpm-doc PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ EXCLUDE_FROM_ALL)
install(FILES ${MCPCHAT_TOP}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/mcp-chat
        COMPONENT rpm-doc PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ EXCLUDE_FROM_ALL)

# --- CPack ------------------------------------------------------------------------------------

set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_PACKAGE_NAME mcp-chat)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "mcp-chat")
set(CPACK_PACKAGE_CONTACT "mcp-chat maintainers <maintainers@users.noreply.r-seed-4cd6cb63.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "anonymous one-to-one chat daemon serving the Model Context Protocol")
set(CPACK_PACKAGE_DESCRIPTION
  "mcp-chatd lets people and agents in any MCP client meet a stranger and
chat. A client connects over MCP Streamable HTTP, enters a queue or joins a
named room, is matched, exchanges messages and is pushed events over
Server-Sent Events. The daemon is a single-threaded io_uring loop that keeps
everything in memory.
The package runs it as the systemd service mcp-chat under its own system
user, and includes mcpchatctl, the administration tool that talks to the
daemon over a Unix control socket.")
set(CPACK_RESOURCE_FILE_LICENSE ${MCPCHAT_TOP}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_GENERATOR "")
# Packages carry the files of the default (unnamed) component plus the documentation
# component of their format (see MCPCHAT_CPACK_CONFIG), all in one package per format.
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL Unspecified debian-doc rpm-doc)

# Debian
set(CPACK_DEBIAN_PACKAGE_NAME mcp-chat)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${MCPCHAT_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# postinst runs systemd-sysusers and deb-systemd-helper/-invoke.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "systemd | systemd-standalone-sysusers | systemd-sysusers, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
foreach(script conffiles postinst prerm postrm)
  file(COPY ${MCPCHAT_PKG_DIR}/deb/${script} DESTINATION ${CMAKE_BINARY_DIR}/packaging/deb
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_BINARY_DIR}/packaging/deb/conffiles
  ${CMAKE_BINARY_DIR}/packaging/deb/postinst
  ${CMAKE_BINARY_DIR}/packaging/deb/prerm
  ${CMAKE_BINARY_DIR}/packaging/deb/postrm)

# RPM (rpmbuild from Debian's rpm package works as well as on an RPM system)
set(CPACK_RPM_PACKAGE_NAME mcp-chat)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE 1)
set(CPACK_RPM_PACKAGE_LICENSE MIT)
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_SUMMARY ${CPACK_PACKAGE_DESCRIPTION_SUMMARY})
set(CPACK_RPM_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
# Library requirements come from rpm's automatic dependencies (sonames of liburing, cJSON,
# libcap, inih, libsystemd, hiredis); the scriptlets need systemd.
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_AUTOPROV OFF)
set(CPACK_RPM_PACKAGE_REQUIRES_POST "systemd")
set(CPACK_RPM_PACKAGE_REQUIRES_PREUN "systemd")
set(CPACK_RPM_PACKAGE_REQUIRES_POSTUN "systemd")
# No /usr/lib/.build-id links: their names change with every build.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
set(CPACK_RPM_POST_INSTALL_SCRIPT_FILE ${MCPCHAT_PKG_DIR}/rpm/post.sh)
set(CPACK_RPM_PRE_UNINSTALL_SCRIPT_FILE ${MCPCHAT_PKG_DIR}/rpm/preun.sh)
set(CPACK_RPM_POST_UNINSTALL_SCRIPT_FILE ${MCPCHAT_PKG_DIR}/rpm/postun.sh)
set(CPACK_RPM_USER_FILELIST
  "%config(noreplace) /etc/mcp-chat/mcp-chat.conf"
  "%license /usr/share/licenses/mcp-chat/LICENSE"
  "%doc /usr/share/doc/mcp-chat/README.md")
# Directories owned by other packages (filesystem, systemd, bash-completion, man-db).
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
  /etc
  /usr/sbin
  /usr/lib/systemd
  /usr/lib/systemd/system
  /usr/lib/sysusers.d
  /usr/lib/tmpfiles.d
  /usr/share/bash-completion
  /usr/share/bash-completion/completions
  /usr/share/man
  /usr/share/man/man1
  /usr/share/man/man8
  /usr/share/licenses)

# Per generator: the documentation component of that format only.
set(MCPCHAT_CPACK_CONFIG ${CMAKE_BINARY_DIR}/packaging/CPackProjectConfig.cmake)
file(WRITE ${MCPCHAT_CPACK_CONFIG} [[
if(CPACK_GENERATOR STREQUAL "DEB")
  set(CPACK_COMPONENTS_ALL Unspecified debian-doc)
elseif(CPACK_GENERATOR STREQUAL "RPM")
  set(CPACK_COMPONENTS_ALL Unspecified rpm-doc)
endif()
]])
set(CPACK_PROJECT_CONFIG_FILE ${MCPCHAT_CPACK_CONFIG})

include(CPack)
