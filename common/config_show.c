/* config_show: every setting's effective value and its source (see config_show.h). */
#include "config_show.h"

#include <string.h>

#include "buf.h"
#include "config.h"

/* A string as a JSON string (buf_append_json_escaped: quotes, backslashes,
 * control bytes). */
static void put_string(struct buf *b, const char *s)
{
	buf_append_str(b, "\"");
	buf_append_json_escaped(b, s, strlen(s));
	buf_append_str(b, "\"");
}

static int hidden(const char *key)
{
	size_t n = strlen(key), sn = strlen(CONFIG_SHOW_HIDDEN_SUFFIX);

	return n >= sn && strcmp(key + n - sn, CONFIG_SHOW_HIDDEN_SUFFIX) == 0;
}

static void put_value(struct buf *b, const struct config_field *f, const void *opts)
{
	const char *p = (const char *)opts + f->offset;

	switch (f->type) {
	case CONFIG_STRING:
	case CONFIG_ENUM: {
		const char *s = *(char *const *)p;

		if (!s)
			buf_append_str(b, "null");
		else if (hidden(f->key))
			buf_append_str(b, "\"(hidden)\"");
		else
			put_string(b, s);
		break;
	}
	case CONFIG_INT:
	case CONFIG_SIZE:
		buf_appendf(b, "%ld", *(const long *)p);
		break;
	case CONFIG_DOUBLE:
	case CONFIG_DURATION:
		buf_appendf(b, "%g", *(const double *)p);
		break;
	case CONFIG_BOOL:
		buf_append_str(b, *(const int *)p ? "true" : "false");
		break;
	case CONFIG_LIST: {
		const struct config_list *l = (const void *)p;

		buf_append_str(b, "[");
		for (size_t i = 0; i < l->n; i++) {
			if (i)
				buf_append_str(b, ", ");
			put_string(b, l->items[i]);
		}
		buf_append_str(b, "]");
		break;
	}
	}
}

void config_show(FILE *out, const struct config_spec *spec, const void *opts,
		 const struct config_result *res)
{
	struct buf value = BUF_INIT;

	fprintf(out, "# %s: the effective configuration (file: %s)\n", spec->program,
		res->file[0] ? res->file : "none");
	fprintf(out, "# %-24s %-32s %s\n", "setting", "value", "from");
	for (size_t i = 0; i < spec->nfields; i++) {
		const struct config_field *f = &spec->fields[i];
		char name[96];

		buf_reset(&value);
		put_value(&value, f, opts);
		fprintf(out, "%-26s %-32.*s ", f->key, (int)value.len, value.data ? value.data : "");
		switch (res->sources[i]) {
		case CONFIG_SRC_FLAG:
			config_key_name(f->key, '-', 0, name, sizeof(name));
			fprintf(out, "flag --%s\n", name);
			break;
		case CONFIG_SRC_ENV:
			config_key_name(f->key, '_', 1, name, sizeof(name));
			fprintf(out, "environment %s%s\n", spec->env_prefix, name);
			break;
		case CONFIG_SRC_FILE:
			fprintf(out, "%s:%d\n", res->file, res->lines[i]);
			break;
		case CONFIG_SRC_DEFAULT:
			fputs("default\n", out);
			break;
		}
	}
	buf_release(&value);
}

int config_show_take_flag(int *argc, char **argv, const char *flag)
{
	int found = 0, o = 1;

	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], flag) == 0)
			found = 1;
		else
			argv[o++] = argv[i];
		if (strcmp(argv[i], "--") == 0) {
			while (++i < *argc)
				argv[o++] = argv[i];
			break;
		}
	}
	*argc = o;
	argv[o] = NULL;
	return found;
}
