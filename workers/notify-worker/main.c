/* notify-worker: consumes the notifications topic and delivers each
 * customer message exactly once to the configured provider, many at a time,
 * retrying what fails transiently and dead-lettering what cannot be sent. */
#include "notify.h"

int main(int argc, char **argv)
{
    return ac_notify_main(argc, argv);
}
