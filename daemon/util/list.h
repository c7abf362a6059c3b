#ifndef MCPCHAT_LIST_H
#define MCPCHAT_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* Intrusive doubly linked lists over one link type, in two shapes:
 * - NULL-terminated, from a head pointer (list_push, list_unlink): connections move between
 *   "open" and "closed, waiting for their last completions" in O(1);
 * - circular around a sentinel head (list_head_init, list_append, list_del, list_empty): a
 *   queue kept in arrival order, appended at the tail, unlinked from anywhere in O(1).
 * A link belongs to one list of one shape at a time. The lists own nothing: the structs that
 * embed the links do. */

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

/* An empty circular list: the head links to itself. */
static inline void list_head_init(struct list_link *h)
{
	h->prev = h->next = h;
}

static inline bool list_empty(const struct list_link *h)
{
	return h->next == h;
}

/* Adds n at the tail of the circular list h. */
static inline void list_append(struct list_link *h, struct list_link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

/* Unlinks n from its circular list and leaves it linked to itself, so that a second
 * list_del is harmless (a link set up with list_head_init may be deleted unlinked). */
static inline void list_del(struct list_link *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#endif
