#ifndef MCPCHAT_TESTS_HTTP_HARNESS_H
#define MCPCHAT_TESTS_HTTP_HARNESS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "http/response.h"
#include "unit.h"

/* What the test_http*.c suites share (header-only, like unit.h): a parser with small limits,
 * feeding bytes and taking the one request they make, the status an error ends with. */

#define MAX_HEAD 8192
#define MAX_BODY 1024

static const struct http_limits limits = { .max_head = MAX_HEAD, .max_body = MAX_BODY };

static inline struct http_conn *new_conn(void)
{
	struct http_conn *c = http_conn_new(&limits);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	return c;
}

/* Feeds all of s in one call; *used gets how much was taken. */
static inline int feed(struct http_conn *c, const char *s, size_t *used)
{
	return http_conn_feed(c, s, strlen(s), used);
}

/* Feeds s, which must hold exactly one complete request, and returns that request. */
static inline const struct http_request *parse_one(struct http_conn *c, const char *s)
{
	size_t used = 0;
	int rc = feed(c, s, &used);

	CU_ASSERT_EQUAL(rc, HTTP_FEED_REQUEST);
	CU_ASSERT_EQUAL(used, strlen(s));
	return http_conn_request(c);
}

/* Feeds s one byte per call; returns the index of the byte that completed the request. */
static inline size_t feed_bytewise(struct http_conn *c, const char *s)
{
	size_t len = strlen(s), used;

	for (size_t i = 0; i < len; i++) {
		int rc = http_conn_feed(c, s + i, 1, &used);

		CU_ASSERT_EQUAL(used, 1);
		if (rc == HTTP_FEED_REQUEST)
			return i;
		CU_ASSERT_EQUAL_FATAL(rc, HTTP_FEED_MORE);
		CU_ASSERT_TRUE(http_conn_in_request(c));
	}
	return len;
}

#endif
