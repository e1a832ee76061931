#include "base/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

struct job {
	worker_fn run;
	worker_fn done;
	void *arg;
	struct job *next;
};

struct queue {
	struct job *head, *tail;
};

struct worker {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct queue todo, finished;
	size_t count, max;
	bool stop;
	void (*notify)(void *);
	void *notify_ctx;
};

static void push(struct queue *q, struct job *j)
{
	j->next = NULL;
	if (q->tail) {
		q->tail->next = j;
	} else {
		q->head = j;
	}
	q->tail = j;
}

static struct job *pop(struct queue *q)
{
	struct job *j = q->head;

	if (j) {
		q->head = j->next;
		if (!q->head) {
			q->tail = NULL;
		}
	}
	return j;
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	struct job *j;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && !w->todo.head) {
			pthread_cond_wait(&w->cv, &w->mu);
		}
		if (w->stop) {
			break;
		}
		j = pop(&w->todo);
		pthread_mutex_unlock(&w->mu);
		j->run(j->arg);
		pthread_mutex_lock(&w->mu);
		push(&w->finished, j);
		pthread_mutex_unlock(&w->mu);
		w->notify(w->notify_ctx);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct worker *worker_create(size_t max_jobs, void (*notify)(void *), void *notify_ctx)
{
	struct worker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int r;

	if (!w) {
		return NULL;
	}
	w->max = max_jobs;
	w->notify = notify;
	w->notify_ctx = notify_ctx;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	/* Signals belong to the loop thread's signalfd, never to this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->thread, NULL, thread_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		errno = r;
		return NULL;
	}
	return w;
}

int worker_submit(struct worker *w, worker_fn run, worker_fn done, void *arg)
{
	struct job *j;

	pthread_mutex_lock(&w->mu);
	if (w->count >= w->max) {
		pthread_mutex_unlock(&w->mu);
		return -EBUSY;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		pthread_mutex_unlock(&w->mu);
		return -ENOMEM;
	}
	j->run = run;
	j->done = done;
	j->arg = arg;
	push(&w->todo, j);
	w->count++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void worker_drain(struct worker *w)
{
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		j = pop(&w->finished);
		if (j) {
			w->count--;
		}
		pthread_mutex_unlock(&w->mu);
		if (!j) {
			return;
		}
		j->done(j->arg);
		free(j);
	}
}

size_t worker_pending(struct worker *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->count;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void worker_destroy(struct worker *w)
{
	struct job *j;

	if (!w) {
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	worker_drain(w);
	while ((j = pop(&w->todo))) {
		j->done(j->arg);
		free(j);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
