#include "table.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"

void table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

void table_add(struct table *t, const char *text)
{
	if (t->ncells == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **cells = realloc(t->cells, cap * sizeof(*cells));
		size_t *widths = cells ? realloc(t->widths, cap * sizeof(*widths)) : NULL;

		if (!widths)
			cli_oom();
		t->cells = cells;
		t->widths = widths;
		t->cap = cap;
	}
	t->cells[t->ncells] = fmt_clean(text, &t->widths[t->ncells]);
	t->ncells++;
}

/* Adds a cell and frees text (for cells built with malloc). */
void table_add_owned(struct table *t, char *text)
{
	table_add(t, text);
	free(text);
}

void table_headers(struct table *t, const char *const *names)
{
	for (size_t i = 0; i < t->ncols; i++)
		table_add(t, names[i]);
}

void table_print_free(struct table *t)
{
	size_t col[16] = { 0 };

	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols;

		if (t->widths[i] > col[c])
			col[c] = t->widths[i];
	}
	for (size_t i = 0; i < t->ncells; i++) {
		size_t c = i % t->ncols;
		bool last = c == t->ncols - 1;

		fputs(t->cells[i], stdout);
		if (!last)
			printf("%*s", (int)(col[c] - t->widths[i] + 2), "");
		else
			putchar('\n');
		free(t->cells[i]);
	}
	free(t->cells);
	free(t->widths);
}
