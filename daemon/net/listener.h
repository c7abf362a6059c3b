#ifndef MCPCHAT_NET_LISTENER_H
#define MCPCHAT_NET_LISTENER_H

/* A listening TCP socket for the server's addresses. */

struct net_listener {
	int fd;
	char name[64]; /* the address it is bound to, port included ("[::1]:43211") */
};

/* "127.0.0.1:8808", "[::1]:0" -> a bound, listening socket in l (an IPv6 one is v6-only).
 * Accepted sockets inherit TCP_NODELAY and a small fixed send buffer. 0 or -errno. */
int net_listen(const char *spec, struct net_listener *l);

#endif
