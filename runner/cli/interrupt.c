/* The signal handlers of interrupt.h.  A handler may only touch a sig_atomic_t and call
 * async-signal-safe functions (write, _exit). */
#include "runner/cli/interrupt.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t requested;
static const char *first_note = "stopping";

static void say(const char *text)
{
    ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
    (void)ignored;
}

static void on_signal(int sig)
{
    (void)sig;
    if (requested) {
        /* Every file is written whole or not at all (a temporary file and a rename), so stopping
         * here leaves the last complete checkpoint and rows; a resumed run clears the rest. */
        say("\ninterrupted again: stopping at once; the run can resume from its last checkpoint\n");
        _exit(INTERRUPT_EXIT_STATUS);
    }
    requested = 1;
    say("\ninterrupted: ");
    say(first_note);
    say(" (interrupt again to stop at once)\n");
}

void interrupt_install(const char *what)
{
    first_note = what;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* Reads and writes in progress go on rather than fail with EINTR. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool interrupt_requested(void) { return requested != 0; }
