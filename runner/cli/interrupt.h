/* Ctrl-C (SIGINT) and SIGTERM for commands that train: the first asks the work to stop at its next
 * safe point (a training run: after the current step, with a checkpoint), a second exits at once
 * with INTERRUPT_EXIT_STATUS.  Only the command line touches process state; the layers below poll
 * interrupt_requested through the function they are given. */
#ifndef RUNNER_INTERRUPT_H
#define RUNNER_INTERRUPT_H

#include <stdbool.h>

/* 128 + SIGINT, as shells report a program that Ctrl-C stopped. */
#define INTERRUPT_EXIT_STATUS 130

/* Installs the handlers (sigaction).  `what` ends the line the first signal prints: "stopping
 * after this step" (a literal: the handler prints it as is). */
void interrupt_install(const char *what);
/* Whether a signal has asked the work to stop. */
bool interrupt_requested(void);

#endif
