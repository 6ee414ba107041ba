/*
 * The mock cluster answers on sockets it accepts itself, without
 * TCP_NODELAY, while a real Kafka broker sets it on every connection
 * (socket.tcp.no.delay). Without it, a response written while the one
 * before is still unacknowledged waits for the client's delayed ACK: about
 * 40 ms on Linux. A producer with several requests in flight then saw each
 * batch acknowledged 40 ms late, so the dev stack measured the kernel's
 * timer rather than the workers.
 *
 * This file takes the place of accept() for the whole devbroker process:
 * librdkafka's call resolves to this definition before libc's, which it
 * calls through dlsym(RTLD_NEXT) before setting TCP_NODELAY.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* The declaration's own types: with _GNU_SOURCE the address is glibc's
 * transparent union, which the real accept() takes unchanged. */
typedef int (*accept_fn)(int, __SOCKADDR_ARG, socklen_t *__restrict);

int accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict addr_len)
{
    static accept_fn real;
    if (!real)
        real = (accept_fn)dlsym(RTLD_NEXT, "accept");
    if (!real)
        return -1;
    int s = real(fd, addr, addr_len);
    if (s >= 0) {
        int one = 1;
        /* Best effort: a socket that refuses it still works, only slower. */
        (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return s;
}
