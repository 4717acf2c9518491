/*
 * pam_otpgate: asks "Verification code: " and lets `otpgate pam` check the answer.
 *
 * The module holds no rule of its own: it converses, starts the helper with the code on
 * its standard input (PAM_USER, PAM_RHOST and PAM_SERVICE in a clean environment), waits
 * a bounded time and turns the exit status into a PAM result. Every failure to get a
 * clear "yes" from the helper -- helper missing or unsafe, time-out, signal, database
 * down, any exit status but 0 -- is PAM_AUTH_ERR with a syslog line: it fails closed.
 *
 * Options: helper=/abs/path (required), config=/abs/path, map=/abs/path, group=NAME,
 * nullok, timeout=SECONDS (1..120, default 10), debug.
 *
 * Helper exit statuses: 0 accepted, 1 refused, 3 the user has no otpgate 2FA (accepted
 * only with nullok), anything else an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PAM_SM_AUTH
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <security/pam_modutil.h>

#define PROMPT "Verification code: "
#define MAX_ANSWER 1024
#define MAX_HELPER_LOG 512
#define EXIT_NOT_ENROLLED 3
#define DEFAULT_TIMEOUT_S 10
#define MAX_TIMEOUT_S 120

struct options {
    const char *helper;
    const char *config;
    const char *map;
    const char *group;
    int nullok;
    int debug;
    int timeout_s;
};

static int starts_with(const char *text, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(text, prefix, n) != 0)
        return 0;
    *rest = text + n;
    return 1;
}

static int absolute_path(pam_handle_t *pamh, const char *name, const char *value)
{
    if (value[0] == '/')
        return 1;
    pam_syslog(pamh, LOG_ERR, "%s= must be an absolute path", name);
    return 0;
}

static int parse_options(pam_handle_t *pamh, int argc, const char **argv, struct options *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_s = DEFAULT_TIMEOUT_S;
    for (int i = 0; i < argc; i++) {
        const char *v;
        if (starts_with(argv[i], "helper=", &v)) {
            if (!absolute_path(pamh, "helper", v))
                return 0;
            o->helper = v;
        } else if (starts_with(argv[i], "config=", &v)) {
            if (!absolute_path(pamh, "config", v))
                return 0;
            o->config = v;
        } else if (starts_with(argv[i], "map=", &v)) {
            if (!absolute_path(pamh, "map", v))
                return 0;
            o->map = v;
        } else if (starts_with(argv[i], "group=", &v) && v[0] != '\0') {
            o->group = v;
        } else if (starts_with(argv[i], "timeout=", &v)) {
            char *end = NULL;
            long t = strtol(v, &end, 10);
            if (end == v || *end != '\0' || t < 1 || t > MAX_TIMEOUT_S) {
                pam_syslog(pamh, LOG_ERR, "timeout= must be 1 to %d seconds", MAX_TIMEOUT_S);
                return 0;
            }
            o->timeout_s = (int)t;
        } else if (strcmp(argv[i], "nullok") == 0) {
            o->nullok = 1;
        } else if (strcmp(argv[i], "debug") == 0) {
            o->debug = 1;
        } else {
            /* An option we do not know may be a misspelt restriction: refuse. */
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\"", argv[i]);
            return 0;
        }
    }
    if (o->helper == NULL) {
        pam_syslog(pamh, LOG_ERR, "the helper= option is required");
        return 0;
    }
    return 1;
}

/* The helper runs as root under sshd: refuse one that someone else could have replaced. */
static int helper_is_safe(pam_handle_t *pamh, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        pam_syslog(pamh, LOG_ERR, "helper %s: %s", path, strerror(errno));
        return 0;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
        pam_syslog(pamh, LOG_ERR, "helper %s is not an executable file", path);
        return 0;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        pam_syslog(pamh, LOG_ERR, "helper %s must be owned by root and writable only by it",
                   path);
        return 0;
    }
    return 1;
}

/* 1: the user needs a code; 0: not a member of group=; -1: error (fail closed). */
static int needs_code(pam_handle_t *pamh, const struct options *o, const char *user)
{
    if (o->group == NULL)
        return 1;
    /* A misspelt or deleted group must not switch 2FA off for everyone. */
    if (pam_modutil_getgrnam(pamh, o->group) == NULL) {
        pam_syslog(pamh, LOG_ERR, "group %s does not exist", o->group);
        return -1;
    }
    return pam_modutil_user_in_group_nam_nam(pamh, user, o->group) ? 1 : 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *env_entry(const char *name, const char *value)
{
    char *entry = NULL;
    if (asprintf(&entry, "%s=%s", name, value != NULL ? value : "") < 0)
        return NULL;
    return entry;
}

struct child {
    pid_t pid;
    int in_fd;
    int err_fd;
};

/* Only async-signal-safe calls between fork and exec. */
static void exec_helper(const struct options *o, char *const *envp, int in_fd, int err_fd)
{
    const char *argv[8];
    int n = 0;
    argv[n++] = o->helper;
    argv[n++] = "pam";
    if (o->config != NULL) {
        argv[n++] = "--config";
        argv[n++] = o->config;
    }
    if (o->map != NULL) {
        argv[n++] = "--map";
        argv[n++] = o->map;
    }
    argv[n] = NULL;

    int null_fd = open("/dev/null", O_WRONLY);
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0 || null_fd < 0 ||
        dup2(null_fd, STDOUT_FILENO) < 0)
        _exit(127);
    closefrom(3);
    setsid();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execve(o->helper, (char *const *)argv, envp);
    _exit(127);
}

static int start_helper(pam_handle_t *pamh, const struct options *o, const char *user,
                        struct child *c)
{
    const void *rhost = NULL;
    const void *service = NULL;
    pam_get_item(pamh, PAM_RHOST, &rhost);
    pam_get_item(pamh, PAM_SERVICE, &service);

    /* A clean environment: nothing of the caller's reaches a process running as root. */
    char *envp[6] = {
        env_entry("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        env_entry("LC_ALL", "C.UTF-8"),
        env_entry("PAM_USER", user),
        env_entry("PAM_RHOST", (const char *)rhost),
        env_entry("PAM_SERVICE", (const char *)service),
        NULL,
    };
    int in[2] = {-1, -1}, err[2] = {-1, -1};
    int ok = 0;
    for (int i = 0; i < 5; i++)
        if (envp[i] == NULL)
            goto out;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        pam_syslog(pamh, LOG_ERR, "pipe: %s", strerror(errno));
        goto out;
    }
    c->pid = fork();
    if (c->pid < 0) {
        pam_syslog(pamh, LOG_ERR, "fork: %s", strerror(errno));
        goto out;
    }
    if (c->pid == 0)
        exec_helper(o, envp, in[0], err[1]);
    c->in_fd = in[1];
    c->err_fd = err[0];
    in[1] = err[0] = -1;
    ok = 1;
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    for (int i = 0; i < 5; i++)
        free(envp[i]);
    return ok;
}

/* Write the answer; a helper that exits early must not kill us with SIGPIPE. */
static void send_answer(int fd, const char *answer)
{
    struct sigaction ignore, saved;
    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &saved);
    const char *parts[2] = {answer, "\n"};
    for (int p = 0; p < 2; p++) {
        size_t left = strlen(parts[p]);
        const char *at = parts[p];
        while (left > 0) {
            ssize_t n = write(fd, at, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto done; /* EPIPE: the exit status tells what happened */
            at += n;
            left -= (size_t)n;
        }
    }
done:
    close(fd);
    sigaction(SIGPIPE, &saved, NULL);
}

/* Collect the helper's stderr until EOF or the deadline; 1 if EOF came in time. */
static int read_log(int fd, char *buf, size_t size, long long deadline)
{
    size_t used = 0;
    char sink[256];
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        ssize_t n;
        if (used + 1 < size)
            n = read(fd, buf + used, size - 1 - used);
        else
            n = read(fd, sink, sizeof(sink)); /* keep draining, keep the start */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            buf[used] = '\0';
            return 1;
        }
        if (used + 1 < size)
            used += (size_t)n;
    }
}

/* The first line of the helper's log, printable ASCII only. */
static void tidy_log(char *buf)
{
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\n') {
            *p = '\0';
            return;
        }
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    }
}

/* Wait for the helper until the deadline, then kill it; its wait status, or -1. */
static int finish(struct child *c, long long deadline)
{
    int status;
    for (;;) {
        pid_t r = waitpid(c->pid, &status, WNOHANG);
        if (r == c->pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() >= deadline)
            break;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    kill(-c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
    while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
        ;
    return -1;
}

static int run_helper(pam_handle_t *pamh, const struct options *o, const char *user,
                      const char *answer)
{
    struct child c = {-1, -1, -1};
    char log[MAX_HELPER_LOG] = "";
    int status = -1;

    /* sshd may reap children from a SIGCHLD handler; we must get our own status. */
    struct sigaction dfl, saved;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &saved);

    long long deadline = now_ms() + (long long)o->timeout_s * 1000;
    if (start_helper(pamh, o, user, &c)) {
        send_answer(c.in_fd, answer);
        int eof = read_log(c.err_fd, log, sizeof(log), deadline);
        close(c.err_fd);
        status = finish(&c, eof ? deadline : 0);
        if (!eof)
            pam_syslog(pamh, LOG_ERR, "helper timed out after %d s; refused", o->timeout_s);
    }
    sigaction(SIGCHLD, &saved, NULL);
    tidy_log(log);

    if (status == -1)
        return PAM_AUTH_ERR;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        pam_syslog(pamh, LOG_INFO, "%s", log[0] ? log : "code accepted");
        return PAM_SUCCESS;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NOT_ENROLLED && o->nullok) {
        pam_syslog(pamh, LOG_NOTICE, "%s; allowed by nullok", log[0] ? log : "no 2FA");
        return PAM_SUCCESS;
    }
    if (WIFEXITED(status))
        pam_syslog(pamh, LOG_NOTICE, "refused (helper exit %d): %s", WEXITSTATUS(status),
                   log[0] ? log : "no message");
    else
        pam_syslog(pamh, LOG_ERR, "refused: helper killed by signal %d",
                   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return PAM_AUTH_ERR;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    struct options o;
    const char *user = NULL;
    char *answer = NULL;

    if (!parse_options(pamh, argc, argv, &o))
        return PAM_AUTH_ERR;
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL || user[0] == '\0') {
        pam_syslog(pamh, LOG_ERR, "no user name");
        return PAM_AUTH_ERR;
    }
    int need = needs_code(pamh, &o, user);
    if (need < 0)
        return PAM_AUTH_ERR;
    if (need == 0) {
        if (o.debug)
            pam_syslog(pamh, LOG_DEBUG, "%s is not in group %s: no code asked", user, o.group);
        return PAM_SUCCESS;
    }
    if (!helper_is_safe(pamh, o.helper))
        return PAM_AUTH_ERR;
    if (pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &answer, "%s", PROMPT) != PAM_SUCCESS ||
        answer == NULL) {
        pam_syslog(pamh, LOG_NOTICE, "no answer to the code prompt for %s", user);
        return PAM_AUTH_ERR;
    }
    int result;
    if (strlen(answer) > MAX_ANSWER) {
        pam_syslog(pamh, LOG_NOTICE, "refused %s: answer longer than %d bytes", user,
                   MAX_ANSWER);
        result = PAM_AUTH_ERR;
    } else {
        result = run_helper(pamh, &o, user, answer);
    }
    explicit_bzero(answer, strlen(answer));
    free(answer);
    return result;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
