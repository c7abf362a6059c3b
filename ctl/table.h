#ifndef MCPCHATCTL_TABLE_H
#define MCPCHATCTL_TABLE_H

#include <stddef.h>

/* Tables: rows of cleaned cells (fmt_clean), columns padded to their widest cell. */

struct table {
	size_t ncols, ncells, cap;
	char **cells;
	size_t *widths; /* per cell */
};

void table_init(struct table *t, size_t ncols);
/* Adds a copy of text, cleaned, as the next cell. */
void table_add(struct table *t, const char *text);
/* Adds text and frees it (for cells built with malloc). */
void table_add_owned(struct table *t, char *text);
void table_headers(struct table *t, const char *const *names);
/* Prints the rows to stdout and frees the table. */
void table_print_free(struct table *t);

#endif
