#include "net/linger.h"

bool linger_wanted(bool peer_done, bool stopping, uint32_t n_conns, uint32_t max_conns)
{
	return !peer_done && !stopping && n_conns <= max_conns;
}

void linger_start(struct linger_state *lg, uint32_t head_timeout_ms, uint64_t now)
{
	uint32_t idle = head_timeout_ms < LINGER_IDLE_MS ? head_timeout_ms : LINGER_IDLE_MS;
	uint64_t total = (uint64_t)head_timeout_ms * 3;

	if (total > LINGER_TOTAL_MS)
		total = LINGER_TOTAL_MS;
	lg->idle_ms = idle;
	lg->last_ms = now;
	lg->end_ms = now + total;
	lg->left = LINGER_MAX_BYTES;
	lg->over = false;
}

bool linger_data(struct linger_state *lg, size_t n, uint64_t now)
{
	lg->last_ms = now;
	if (n > lg->left) {
		lg->left = 0;
		lg->over = true;
		return false;
	}
	lg->left -= n;
	return true;
}

uint64_t linger_deadline(const struct linger_state *lg)
{
	uint64_t idle_end = lg->last_ms + lg->idle_ms;

	return idle_end < lg->end_ms ? idle_end : lg->end_ms;
}

bool linger_reset(const struct linger_state *lg, uint64_t now)
{
	return lg->over || now < lg->last_ms + lg->idle_ms;
}
