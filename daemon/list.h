#ifndef MCPCHAT_LIST_H
#define MCPCHAT_LIST_H

#include <stddef.h>

/* An intrusive, NULL-terminated doubly linked list: connections move between "open" and
 * "closed, waiting for their last completions" in O(1). */

/* The struct that embeds member at ptr. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct list_link {
	struct list_link *prev, *next;
};

static inline void list_push(struct list_link **head, struct list_link *n)
{
	n->prev = NULL;
	n->next = *head;
	if (*head)
		(*head)->prev = n;
	*head = n;
}

static inline void list_unlink(struct list_link **head, struct list_link *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		*head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

#endif
