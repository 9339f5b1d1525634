/* file_watch: tells when a file changed, with inotify on its folder (editors
 * and ConfigMap mounts replace files by renaming; a ConfigMap swaps its
 * "..data" link), in the loop. What --file and --routes read. */
#ifndef LB_DISCOVER_FILE_WATCH_H
#define LB_DISCOVER_FILE_WATCH_H

#include <ev.h>
#include <stddef.h>

typedef void (*file_watch_cb)(void *data);

struct file_watch {
	struct ev_loop *loop;
	char name[256];		/* the file's name within its folder */
	int ifd;		/* -1: not watching */
	ev_io io;
	file_watch_cb changed;
	void *data;
};

/* Watches path's folder (not started: file_watch_run starts it). Returns 0,
 * or -1 with "cannot watch PATH: why" in err. */
int file_watch_init(struct file_watch *w, struct ev_loop *loop, const char *path,
		    file_watch_cb changed, void *data, char *err, size_t errsz);
/* Starts calling changed() when the file may have changed. */
void file_watch_run(struct file_watch *w);
void file_watch_release(struct file_watch *w);

#endif
