/* discover_fixture: the registry and process state lb-discover's unit tests
 * start from (see discover_fixture.h). Links only core/registry.c of
 * lb-discover, so fuzz_shared_state can use it too. */
#include "discover_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const fixture_addresses[] = { FIXTURE_A, FIXTURE_B };

void discover_fixture_registry(struct registry *r, const char *service)
{
	struct bus_backend list[2];

	memset(list, 0, sizeof(list));
	for (size_t i = 0; i < 2; i++) {
		snprintf(list[i].address, sizeof(list[i].address), "%s", fixture_addresses[i]);
		list[i].weight = 1;
	}
	registry_init(r, service);
	registry_source_update(r, list, 2, 1000);
}

int discover_fixture_init(struct discover_fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->opts = (struct discover_options){
		.service = "backend",
		.heartbeat = 1.0,
		.override_grace = 30,
		.eject_5xx = 5,
		.eject_gateway = 3,
		.eject_time = 30,
		.eject_time_max = 300,
		.eject_max_percent = 50,
	};
	snprintf(f->dir, sizeof(f->dir), "/tmp/lb-discover-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->d.opts = &f->opts;
	f->d.pub.sock = f->d.pull.sock = f->d.rep.sock = -1;
	snprintf(f->d.rundir, sizeof(f->d.rundir), "%s", f->dir);
	snprintf(f->d.state_path, sizeof(f->d.state_path), "%s/discover-backend.json", f->dir);
	f->d.loop = ev_loop_new(EVFLAG_AUTO);
	if (!f->d.loop)
		return -1;
	f->d.started = ev_now(f->d.loop) - 3600;
	discover_fixture_registry(&f->d.reg, "backend");
	registry_commit(&f->d.reg);
	return 0;
}

static void fake_record(struct discover *d, const struct fleet_op *op)
{
	struct discover_fixture *f = (struct discover_fixture *)d;

	if (f->nops < FIXTURE_OPS_MAX)
		f->ops[f->nops++] = *op;
}

static void fake_changed(struct discover *d)
{
	((struct discover_fixture *)d)->changed++;
}

static unsigned fake_proxies(const struct discover *d)
{
	return ((const struct discover_fixture *)d)->other_proxies;
}

void discover_fixture_cluster(struct discover_fixture *f)
{
	static const struct discover_cluster fake = { fake_record, fake_changed, fake_proxies };

	f->d.cluster = &fake;
}

void discover_fixture_release(struct discover_fixture *f)
{
	for (size_t i = 0; i < f->d.nproxies; i++)
		bus_set_release(&f->d.proxies[i].report);
	free(f->d.proxies);
	registry_release(&f->d.reg);
	if (f->d.loop)
		ev_loop_destroy(f->d.loop);
	unlink(f->d.state_path);
	rmdir(f->dir);
}

void discover_fixture_report(struct bus_set *rep, int pid, unsigned long long generation)
{
	memset(rep, 0, sizeof(*rep));
	snprintf(rep->type, sizeof(rep->type), "report");
	snprintf(rep->service, sizeof(rep->service), "backend");
	rep->pid = pid;
	rep->generation = generation;
	rep->n = 2;
	rep->backends = calloc(2, sizeof(*rep->backends));
	for (size_t i = 0; rep->backends && i < 2; i++) {
		snprintf(rep->backends[i].address, sizeof(rep->backends[i].address), "%s",
			 fixture_addresses[i]);
		rep->backends[i].weight = 1;
		rep->backends[i].state = BUS_STATE_UP;
	}
	if (!rep->backends)
		rep->n = 0;
}
