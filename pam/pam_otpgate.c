/*
 * pam_otpgate: asks "Verification code: " and lets otpgate check the answer.
 *
 * The module holds no rule of its own: it converses, then either asks a running
 * `otpgate pam-daemon` over its Unix socket (socket=), or starts the helper `otpgate pam`
 * with the code on its standard input (PAM_USER, PAM_RHOST and PAM_SERVICE in a clean
 * environment), waits a bounded time and turns the status into a PAM result. Every
 * failure to get a clear "yes" -- helper missing or unsafe, daemon unreachable with no
 * helper to fall back to, time-out, signal, database down, any status but 0 -- is
 * PAM_AUTH_ERR with a syslog line: it fails closed.
 *
 * Options: helper=/abs/path, socket=/abs/path (at least one of the two), config=/abs/path,
 * map=/abs/path (both for the helper; the daemon has its own), group=NAME, nullok,
 * timeout=SECONDS (1..120, default 10), debug.
 *
 * With socket=, the helper is used only when the daemon cannot be reached (no socket,
 * nobody listening, not run by root, busy). Once the request is sent, the daemon's answer
 * is final: a daemon that does not answer in time refuses the login, so a code is never
 * checked twice.
 *
 * Statuses (helper exit status, or the daemon's answer): 0 accepted, 1 refused, 3 the
 * user has no otpgate 2FA (accepted only with nullok), anything else an error.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
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
#define CONNECT_TIMEOUT_MS 1000
/* The daemon's protocol bounds (src/otpgate/pam/protocol.py), in bytes before hex. */
#define PROTOCOL "otpgate-pam/1"
#define MAX_USER 256
#define MAX_RHOST 1024
#define MAX_SERVICE 256
#define MAX_RESPONSE 512

struct options {
    const char *helper;
    const char *socket_path;
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
        } else if (starts_with(argv[i], "socket=", &v)) {
            if (!absolute_path(pamh, "socket", v))
                return 0;
            if (strlen(v) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
                pam_syslog(pamh, LOG_ERR, "socket= path is too long");
                return 0;
            }
            o->socket_path = v;
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
    if (o->helper == NULL && o->socket_path == NULL) {
        pam_syslog(pamh, LOG_ERR, "the helper= or socket= option is required");
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

/* A status of the helper or the daemon, and its log line, as a PAM result. */
static int judge(pam_handle_t *pamh, const struct options *o, int status, const char *log,
                 const char *what)
{
    if (status == 0) {
        pam_syslog(pamh, LOG_INFO, "%s", log[0] ? log : "code accepted");
        return PAM_SUCCESS;
    }
    if (status == EXIT_NOT_ENROLLED && o->nullok) {
        pam_syslog(pamh, LOG_NOTICE, "%s; allowed by nullok", log[0] ? log : "no 2FA");
        return PAM_SUCCESS;
    }
    pam_syslog(pamh, LOG_NOTICE, "refused (%s %d): %s", what, status,
               log[0] ? log : "no message");
    return PAM_AUTH_ERR;
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
    if (!WIFEXITED(status)) {
        pam_syslog(pamh, LOG_ERR, "refused: helper killed by signal %d",
                   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        return PAM_AUTH_ERR;
    }
    return judge(pamh, o, WEXITSTATUS(status), log, "helper exit");
}

/* --- Asking `otpgate pam-daemon` over its Unix socket --------------------------------- */

#define DAEMON_UNREACHABLE (-1) /* not a PAM result: the caller may fall back to the helper */

/* A connected socket to the daemon, or -1 (logged): nobody there, busy, or not root. */
static int connect_daemon(pam_handle_t *pamh, const struct options *o)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        pam_syslog(pamh, LOG_ERR, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, o->socket_path, strlen(o->socket_path) + 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        /* EAGAIN: the daemon's backlog is full, as good as down for this login. */
        int err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int r;
            do
                r = poll(&p, 1, CONNECT_TIMEOUT_MS);
            while (r < 0 && errno == EINTR);
            socklen_t len = sizeof(err);
            if (r == 0)
                err = ETIMEDOUT;
            else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
        if (err != 0) {
            pam_syslog(pamh, LOG_ERR, "otpgate daemon %s: %s", o->socket_path, strerror(err));
            close(fd);
            return -1;
        }
    }
    /* Only root's daemon may answer: whoever else listens there is not otpgate. */
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != 0) {
        pam_syslog(pamh, LOG_ERR, "otpgate daemon %s is not run by root; not asked",
                   o->socket_path);
        close(fd);
        return -1;
    }
    return fd;
}

static char *append_hex(char *at, const char *label, const char *value, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = strlen(label);
    memcpy(at, label, n);
    at += n;
    for (size_t i = 0; i < len; i++) {
        unsigned char byte = (unsigned char)value[i];
        *at++ = digits[byte >> 4];
        *at++ = digits[byte & 0x0f];
    }
    return at;
}

/* "otpgate-pam/1 user=HEX rhost=HEX service=HEX answer=HEX\n"; NULL if out of memory. */
static char *build_request(const char *user, const char *rhost, const char *service,
                           const char *answer, size_t *length)
{
    size_t ulen = strlen(user), alen = strlen(answer);
    size_t rlen = rhost != NULL ? strnlen(rhost, MAX_RHOST) : 0;
    size_t slen = service != NULL ? strnlen(service, MAX_SERVICE) : 0;
    char *request = malloc(sizeof(PROTOCOL) + 64 + 2 * (ulen + rlen + slen + alen));
    if (request == NULL)
        return NULL;
    char *at = request;
    memcpy(at, PROTOCOL, strlen(PROTOCOL));
    at += strlen(PROTOCOL);
    at = append_hex(at, " user=", user, ulen);
    at = append_hex(at, " rhost=", rhost, rlen);
    at = append_hex(at, " service=", service, slen);
    at = append_hex(at, " answer=", answer, alen);
    *at++ = '\n';
    *length = (size_t)(at - request);
    return request;
}

/* Wait until fd is ready for `events` or the deadline passes; 1 if ready. */
static int wait_for(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0;
    }
}

/* Send it all before the deadline. MSG_NOSIGNAL: a daemon that closes must not kill sshd. */
static int send_all(int fd, const char *data, size_t length, long long deadline)
{
    while (length > 0) {
        ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_for(fd, POLLOUT, deadline))
                return 0;
            continue;
        }
        if (n <= 0)
            return 0;
        data += n;
        length -= (size_t)n;
    }
    return 1;
}

/* The daemon's one line, without its newline; 1 if a whole line came before the deadline. */
static int read_reply(int fd, char *buf, size_t size, long long deadline)
{
    size_t used = 0;
    while (used + 1 < size) {
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_for(fd, POLLIN, deadline))
                return 0;
            continue;
        }
        if (n <= 0)
            return 0;
        used += (size_t)n;
        buf[used] = '\0';
        char *end = memchr(buf, '\n', used);
        if (end != NULL) {
            *end = '\0';
            return 1;
        }
    }
    return 0;
}

/* The PAM result the daemon gives, or DAEMON_UNREACHABLE if it could not be asked. */
static int ask_daemon(pam_handle_t *pamh, const struct options *o, const char *user,
                      const char *answer)
{
    if (strlen(user) > MAX_USER) {
        pam_syslog(pamh, LOG_NOTICE, "refused: user name longer than %d bytes", MAX_USER);
        return PAM_AUTH_ERR;
    }
    const void *rhost = NULL;
    const void *service = NULL;
    pam_get_item(pamh, PAM_RHOST, &rhost);
    pam_get_item(pamh, PAM_SERVICE, &service);
    int fd = connect_daemon(pamh, o);
    if (fd < 0)
        return DAEMON_UNREACHABLE;

    /* From here on the daemon's answer is final: no fallback, so no code is tried twice. */
    long long deadline = now_ms() + (long long)o->timeout_s * 1000;
    size_t length = 0;
    char reply[MAX_RESPONSE + 1] = "";
    int whole = 0;
    char *request = build_request(user, (const char *)rhost, (const char *)service, answer,
                                  &length);
    if (request != NULL) {
        if (send_all(fd, request, length, deadline))
            whole = read_reply(fd, reply, sizeof(reply), deadline);
        explicit_bzero(request, length);
        free(request);
    }
    close(fd);
    if (!whole) {
        pam_syslog(pamh, LOG_ERR, "no answer from otpgate daemon %s within %d s; refused",
                   o->socket_path, o->timeout_s);
        return PAM_AUTH_ERR;
    }
    if (reply[0] < '0' || reply[0] > '9' || (reply[1] != ' ' && reply[1] != '\0')) {
        pam_syslog(pamh, LOG_ERR, "otpgate daemon %s: malformed answer; refused",
                   o->socket_path);
        return PAM_AUTH_ERR;
    }
    char *log = reply[1] == ' ' ? reply + 2 : reply + 1;
    tidy_log(log);
    return judge(pamh, o, reply[0] - '0', log, "daemon status");
}

/* The daemon if configured and reachable, else the helper if configured, else refuse. */
static int check_answer(pam_handle_t *pamh, const struct options *o, const char *user,
                        const char *answer)
{
    if (o->socket_path != NULL) {
        int result = ask_daemon(pamh, o, user, answer);
        if (result != DAEMON_UNREACHABLE)
            return result;
        if (o->helper == NULL) {
            pam_syslog(pamh, LOG_ERR, "refused %s: otpgate daemon unreachable, no helper=",
                       user);
            return PAM_AUTH_ERR;
        }
        pam_syslog(pamh, LOG_WARNING, "otpgate daemon unreachable: asking the helper");
        if (!helper_is_safe(pamh, o->helper))
            return PAM_AUTH_ERR;
    }
    return run_helper(pamh, o, user, answer);
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
    /* Helper only: check it before asking anything. With socket=, only if it is needed. */
    if (o.socket_path == NULL && !helper_is_safe(pamh, o.helper))
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
        result = check_answer(pamh, &o, user, answer);
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
