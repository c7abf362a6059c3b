#include "format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "cli.h"

/* Text from the daemon (display names, messages) may hold anything: control characters and
 * invalid sequences become '?' so nothing reaches the terminal raw. *width is in columns. */
char *fmt_clean(const char *s, size_t *width)
{
	size_t len = strlen(s), w = 0, o = 0;
	char *out = malloc(len + 1);
	mbstate_t st;

	if (!out)
		cli_oom();
	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		wchar_t wc;
		size_t n;
		int cw;

		if (c >= 0x20 && c < 0x7f) {
			out[o++] = s[i++];
			w++;
			continue;
		}
		n = c < 0x80 ? (size_t)-1 : mbrtowc(&wc, s + i, len - i, &st);
		cw = n == (size_t)-1 || n == (size_t)-2 || n == 0 ? -1 : wcwidth(wc);
		if (cw < 0) {
			memset(&st, 0, sizeof(st));
			out[o++] = '?';
			w++;
			i += n == (size_t)-1 || n == (size_t)-2 || n == 0 ? 1 : n;
			continue;
		}
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
		w += (size_t)cw;
	}
	out[o] = '\0';
	if (width)
		*width = w;
	return out;
}

/* 12s, 3m04s, 2h05m, 3d04h; "-" when unknown. */
void fmt_duration(const cJSON *v, char *buf, size_t len)
{
	double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
	unsigned long long s;

	if (!(d >= 0) || d > 1e15) {
		snprintf(buf, len, "-");
		return;
	}
	s = (unsigned long long)d;
	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
}

void fmt_number(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsNumber(v))
		snprintf(buf, len, "%.15g", v->valuedouble);
	else
		snprintf(buf, len, "-");
}

/* 1234567 → "1234567 (1.2 MiB)" */
void fmt_bytes(const cJSON *v, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double b = cJSON_IsNumber(v) ? v->valuedouble : -1;
	int u = -1;

	if (!(b >= 1024)) {
		fmt_number(v, buf, len);
		return;
	}
	while (b >= 1024 && u < 3) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, "%.15g (%.1f %s)", v->valuedouble, b, units[u]);
}

const char *fmt_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : "-";
}

/* The strings of an array joined by sep; "-" when empty. Malloc'd. */
char *fmt_join(const cJSON *arr, const char *sep)
{
	size_t len = 2, n = 0;
	const cJSON *it;
	char *out;

	cJSON_ArrayForEach(it, arr)
		len += (cJSON_IsString(it) ? strlen(it->valuestring) : 1) + strlen(sep);
	out = malloc(len);
	if (!out)
		cli_oom();
	out[0] = '\0';
	cJSON_ArrayForEach(it, arr) {
		if (n++)
			strcat(out, sep);
		strcat(out, cJSON_IsString(it) ? it->valuestring : "?");
	}
	if (!n)
		strcpy(out, "-");
	return out;
}
