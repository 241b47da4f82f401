/*
 * addr.c - numeric socket addresses: what the listeners bind (http.c) and
 * what `wasp top` connects to (top.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "server/internal.h"

socklen_t srv_sockaddr(const char *host, int port, struct sockaddr_storage *ss, char *err,
                       size_t errlen) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        return sizeof *s4;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        return sizeof *s6;
    }
    snprintf(err, errlen, "%s: not a numeric IPv4 or IPv6 address", host);
    return 0;
}
