/* Lingering subscriptions. A 2026-07-28 client reads its chat in a loop: as soon as one
 * wait_for_message answers, the next one comes. Unsubscribing from the chat's wake-up
 * channel after every answer and subscribing again for the next wait costs, per message,
 * an UNSUBSCRIBE, a SUBSCRIBE and a read after subscribing (an event may have rung before
 * the subscription took effect). So the last waiter's answer leaves a placeholder waiter
 * behind for ENG_LINGER_MS: the subscription stays, and the placeholder notes the newest seq
 * any doorbell announced meanwhile. The next wait on the chat takes the placeholder's place
 * and reads again only if a doorbell announced something newer than its own read saw. The
 * engine's touch tick ends placeholders past their time (UNSUBSCRIBE then). */
#include <stdlib.h>
#include <string.h>

#include "cluster/engine_int.h"
#include "cluster/node.h"
#include "redis/client.h"
#include "util/xalloc.h"

#define ENG_LINGER_MS 5000

struct eng_linger {
	struct htab_entry entry; /* e->lingers, by chat id */
	struct cluster_wake_waiter w;
	char chat_id[CHAT_ID_LEN + 1];
	uint64_t rung;  /* newest seq a doorbell announced; UINT64_MAX: unknown (read again) */
	uint64_t until; /* timer_now_ms() after which it goes */
	uint64_t base;  /* the seq the last wait answered up to: its client's next `after` */
};

static void on_rung(struct cluster_wake_waiter *w, const char *chat_id, uint64_t seq, bool end,
		    const struct cluster_wake_event *ev)
{
	struct eng_linger *lg = w->ctx;

	(void)chat_id;
	(void)ev;
	/* seq 0 is "something may have happened" (a reconnect, a subscription, an end). */
	if (end || seq == 0)
		lg->rung = UINT64_MAX;
	else if (seq > lg->rung)
		lg->rung = seq;
}

static struct eng_linger *find(struct cluster_engine *e, const char *chat_id)
{
	struct htab_entry *h = htab_lookup(&e->lingers, chat_id, strlen(chat_id));

	return h ? container_of(h, struct eng_linger, entry) : NULL;
}

bool eng_linger_keep(struct cluster_engine *e, const char *chat_id, uint64_t base,
		     uint64_t rung)
{
	char channel[CLUSTER_WAKE_CHANNEL_MAX];
	struct eng_linger *lg;

	if (e->stopping || find(e, chat_id))
		return false;
	lg = xcalloc(1, sizeof(*lg));
	snprintf(lg->chat_id, sizeof(lg->chat_id), "%s", chat_id);
	/* The chat's record went with its last waiter; the subscription itself is still there
	 * (nothing was sent), so this "first waiter" subscribes nothing. */
	if (cluster_wake_add(e->wake, chat_id, &lg->w, on_rung, lg, channel) < 0) {
		free(lg);
		return false;
	}
	lg->until = timer_now_ms() + ENG_LINGER_MS;
	lg->base = base;
	lg->rung = rung; /* what the last waiter heard beyond what it answered */
	htab_add(&e->lingers, &lg->entry, lg->chat_id, strlen(lg->chat_id),
		 htab_hash(&e->lingers, lg->chat_id, strlen(lg->chat_id)));
	return true;
}

/* Unregisters lg and frees it; UNSUBSCRIBEs when it was the chat's last waiter. */
static void drop(struct cluster_engine *e, struct eng_linger *lg)
{
	char channel[CLUSTER_WAKE_CHANNEL_MAX];

	htab_del(&e->lingers, &lg->entry);
	if (cluster_wake_remove(e->wake, &lg->w, channel) == 1 && !e->stopping)
		redis_subscribe(cluster_node_subscriber(e->node), REDIS_UNSUBSCRIBE, channel,
				strlen(channel), NULL, NULL);
	free(lg);
}

bool eng_linger_fresh(struct cluster_engine *e, const char *chat_id, uint64_t after)
{
	struct eng_linger *lg = find(e, chat_id);

	/* The subscription was there all along (a lost one rings seq 0: unknown), so every
	 * event after base rang on it: none rang past after, and after covers base. */
	return lg && lg->rung != UINT64_MAX && lg->rung <= after && after >= lg->base;
}

int eng_linger_take(struct cluster_engine *e, const char *chat_id, uint64_t seen)
{
	struct eng_linger *lg = find(e, chat_id);
	bool stale;

	if (!lg)
		return -1;
	stale = lg->rung == UINT64_MAX || lg->rung > seen;
	e->st.linger_reused++;
	drop(e, lg);
	return stale;
}

void eng_linger_expire(struct cluster_engine *e, bool all)
{
	uint64_t now = timer_now_ms();
	struct htab_entry *h, *next;

	for (h = htab_next(&e->lingers, NULL); h; h = next) {
		struct eng_linger *lg = container_of(h, struct eng_linger, entry);

		next = htab_next(&e->lingers, h);
		if (all || lg->until <= now) {
			/* The walk goes on from next: deleting h does not move the others. */
			drop(e, lg);
		}
	}
}

void eng_linger_reassert(struct cluster_engine *e)
{
	struct htab_entry *h;

	for (h = htab_next(&e->lingers, NULL); h; h = htab_next(&e->lingers, h)) {
		struct eng_linger *lg = container_of(h, struct eng_linger, entry);

		eng_reassert_modern(e, lg->chat_id, lg->base);
	}
}

size_t eng_linger_count(const struct cluster_engine *e)
{
	return htab_count(&e->lingers);
}
