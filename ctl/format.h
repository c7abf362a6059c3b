#ifndef MCPCHATCTL_FORMAT_H
#define MCPCHATCTL_FORMAT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Values from the daemon's answers as text for people. */

/* Text from the daemon (display names, messages) may hold anything: control characters and
 * invalid sequences become '?' so nothing reaches the terminal raw. Returns a malloc'd copy
 * (the caller frees it); *width (may be NULL) gets its width in columns. */
char *fmt_clean(const char *s, size_t *width);
/* 12s, 3m04s, 2h05m, 3d04h; "-" when v is not a number. */
void fmt_duration(const cJSON *v, char *buf, size_t len);
void fmt_number(const cJSON *v, char *buf, size_t len);
/* 512 B, 1.5 KiB, 20.0 MiB ... */
void fmt_bytes(const cJSON *v, char *buf, size_t len);
/* The string member key of o, or "-". */
const char *fmt_field(const cJSON *o, const char *key);
/* The strings of an array joined by sep; "-" when empty. Malloc'd: the caller frees it. */
char *fmt_join(const cJSON *arr, const char *sep);

#endif
