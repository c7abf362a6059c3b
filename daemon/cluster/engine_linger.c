/* Lingering subscriptions. A 2026-07-28 client reads its chat in a loop: as soon as one
 * wait_for_message answers, the next one comes. Unsubscribing from the chat's wake-up
 * channel after every answer and subscribing again for the next wait costs, per message,
 * an UNSUBSCRIBE, a SUBSCRIBE and a read after subscribing (an event may have rung before
 * the subscription took effect). So the last waiter's answer leaves a placeholder waiter
 * behind for ENG_LINGER_MS: the subscription stays, and the placeholder notes the newest seq
 * any doorbell announced meanwhile. The next wait on the chat takes the placeholder's place
 * and reads again only if a doorbell announced something newer than its own read saw. The
 * engine's touch tick ends placeholders past their time (UNSUBSCRIBE then).
 * A doorbell carries its event: the placeholder keeps the newest run of them, in line
 * (cluster/kept.h), so a next wait whose `after` the run covers (every event after it up to
 * the newest) is answered from them at once, with an `ack` that moves the cursor instead of
 * a read (eng_linger_events). */
#include <stdlib.h>
#include <string.h>

#include "cluster/engine_int.h"
#include "cluster/node.h"
#include "redis/client.h"
#include "util/xalloc.h"

#define ENG_LINGER_MS 5000

struct eng_linger {
	struct htab_entry entry; /* e->lingers, by chat id */
	struct cluster_engine *e;
	struct cluster_wake_waiter w;
	char chat_id[CHAT_ID_LEN + 1];
	uint64_t rung;  /* newest seq a doorbell announced; UINT64_MAX: unknown (read again) */
	uint64_t until; /* timer_now_ms() after which it goes */
	uint64_t base;  /* the seq the last wait answered up to: its client's next `after` */
	uint64_t trimmed; /* the last wait's `after`: acknowledged (XTRIM sent) up to there */
	/* The newest run of events that rang with their events, in line, up to the newest
	 * (a ring without its event empties it; an unknown wake-up too, the run starting
	 * again after it; the chat's end for good: ended). */
	struct cluster_kept kept;
	bool ended;
	uint64_t unknown_at; /* e->reads_issued at the last unknown wake-up */
};

static void on_rung(struct cluster_wake_waiter *w, const char *chat_id, uint64_t seq, bool end,
		    const struct cluster_wake_event *ev)
{
	struct eng_linger *lg = w->ctx;

	(void)chat_id;
	/* seq 0 is "something may have happened" (a reconnect, a subscription, an end). */
	if (end || seq == 0) {
		lg->rung = UINT64_MAX;
		lg->unknown_at = lg->e->reads_issued;
		lg->ended = lg->ended || end;
		cluster_kept_clear(&lg->kept);
		return;
	}
	if (seq > lg->rung)
		lg->rung = seq;
	if (!lg->ended)
		eng_kept_ring(&lg->kept, seq, ev);
}

static struct eng_linger *find(struct cluster_engine *e, const char *chat_id)
{
	struct htab_entry *h = htab_lookup(&e->lingers, chat_id, strlen(chat_id));

	return h ? container_of(h, struct eng_linger, entry) : NULL;
}

bool eng_linger_keep(struct cluster_engine *e, const char *chat_id, uint64_t base,
		     uint64_t trimmed, uint64_t rung, struct cluster_kept *kept)
{
	char channel[CLUSTER_WAKE_CHANNEL_MAX];
	struct eng_linger *lg = NULL;

	if (e->stopping || find(e, chat_id))
		goto fail;
	lg = xcalloc(1, sizeof(*lg));
	snprintf(lg->chat_id, sizeof(lg->chat_id), "%s", chat_id);
	/* The chat's record went with its last waiter; the subscription itself is still there
	 * (nothing was sent), so this "first waiter" subscribes nothing. */
	if (cluster_wake_add(e->wake, chat_id, &lg->w, on_rung, lg, channel) < 0)
		goto fail;
	lg->e = e;
	lg->until = timer_now_ms() + ENG_LINGER_MS;
	lg->unknown_at = e->reads_issued; /* a read from now on sees what rung unknown */
	lg->base = base;
	lg->trimmed = trimmed;
	lg->rung = rung; /* what the last waiter heard beyond what it answered */
	cluster_kept_init(&lg->kept, &e->kept);
	/* the run rung on the last waiter after its answer, if it reaches the newest */
	if (kept && kept->n && (rung == UINT64_MAX || cluster_kept_last(kept) == rung))
		cluster_kept_move(&lg->kept, kept);
	else if (kept)
		cluster_kept_clear(kept);
	htab_add(&e->lingers, &lg->entry, lg->chat_id, strlen(lg->chat_id),
		 htab_hash(&e->lingers, lg->chat_id, strlen(lg->chat_id)));
	return true;
fail:
	free(lg);
	if (kept)
		cluster_kept_clear(kept);
	return false;
}

/* Unregisters lg and frees it; UNSUBSCRIBEs when it was the chat's last waiter. */
static void drop(struct cluster_engine *e, struct eng_linger *lg)
{
	char channel[CLUSTER_WAKE_CHANNEL_MAX];

	htab_del(&e->lingers, &lg->entry);
	if (cluster_wake_remove(e->wake, &lg->w, channel) == 1 && !e->stopping)
		redis_subscribe(cluster_node_subscriber(e->node), REDIS_UNSUBSCRIBE, channel,
				strlen(channel), NULL, NULL);
	cluster_kept_clear(&lg->kept);
	free(lg);
}

bool eng_linger_fresh(struct cluster_engine *e, const char *chat_id, uint64_t after)
{
	struct eng_linger *lg = find(e, chat_id);

	/* The subscription was there all along (a lost one rings seq 0: unknown), so every
	 * event after base rang on it: none rang past after, and after covers base. */
	return lg && lg->rung != UINT64_MAX && lg->rung <= after && after >= lg->base;
}

uint64_t eng_linger_trimmed(struct cluster_engine *e, const char *chat_id)
{
	struct eng_linger *lg = find(e, chat_id);

	return lg ? lg->trimmed : 0;
}

int eng_linger_events(struct cluster_engine *e, const char *chat_id, uint64_t after,
		      struct cluster_kept *out, uint64_t *rung)
{
	struct eng_linger *lg = find(e, chat_id);

	/* the run holds every event after `after` up to the newest: a newer one rung without
	 * its event would have emptied it, and a read that saw newer (eng_linger_answered)
	 * leaves it short until their doorbells come */
	if (!lg || lg->ended || !lg->kept.n || after + 1 < lg->kept.first ||
	    after >= cluster_kept_last(&lg->kept) ||
	    (lg->rung != UINT64_MAX && lg->rung > cluster_kept_last(&lg->kept)))
		return 0;
	*rung = cluster_kept_last(&lg->kept);
	return cluster_kept_copy_after(out, &lg->kept, after) > 0 ? (int)out->n : 0;
}

void eng_linger_answered(struct cluster_engine *e, const char *chat_id, uint64_t base,
			 uint64_t seen, uint64_t read_stamp)
{
	struct eng_linger *lg = find(e, chat_id);

	/* what it heard is no newer than what the read saw (an unknown wake-up counts as seen
	 * when it came before the read went): it goes on from the answer */
	if (!lg || (lg->rung == UINT64_MAX ? lg->unknown_at >= read_stamp : lg->rung > seen))
		return;
	lg->base = base;
	lg->rung = seen;
	lg->until = timer_now_ms() + ENG_LINGER_MS;
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
