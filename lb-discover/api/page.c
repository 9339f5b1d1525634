/* page: the status page's files, embedded with the assembler's .incbin (see
 * page.h). The files stay plain HTML, CSS and JavaScript in api/page/, to
 * read, edit and check as they are; .incbin puts their bytes in .rodata at
 * compile time, so no generator (xxd) and no generated source is needed
 * and what is served is byte for byte what is in the repository. The
 * Makefile rebuilds page.o when a file changes (the compiler's -MMD does
 * not see .incbin). */
#include "page.h"

#include <string.h>

/* The bytes of FILE (a path from the repository's root, where make runs
 * the compiler) between the hidden symbols NAME and NAME_end. */
#define PAGE_EMBED(name, file)                                                              \
	__asm__(".pushsection .rodata\n"                                                    \
		".globl " #name "\n"                                                        \
		".hidden " #name "\n"                                                       \
		".globl " #name "_end\n"                                                    \
		".hidden " #name "_end\n"                                                   \
		".balign 16\n" #name ":\n"                                                  \
		".incbin \"" file "\"\n" #name "_end:\n"                                     \
		".popsection\n");                                                          \
	extern const unsigned char name[] __attribute__((visibility("hidden")));            \
	extern const unsigned char name##_end[] __attribute__((visibility("hidden")))

PAGE_EMBED(page_index_html, "lb-discover/api/page/index.html");
PAGE_EMBED(page_page_js, "lb-discover/api/page/page.js");
PAGE_EMBED(page_page_css, "lb-discover/api/page/page.css");

const struct page_file *page_find(const char *path)
{
	static struct page_file files[] = {
		{ "/", "text/html; charset=utf-8", NULL, 0 },
		{ "/page.js", "text/javascript; charset=utf-8", NULL, 0 },
		{ "/page.css", "text/css; charset=utf-8", NULL, 0 },
	};

	if (!files[0].data) {
		files[0].data = page_index_html;
		files[0].len = (size_t)(page_index_html_end - page_index_html);
		files[1].data = page_page_js;
		files[1].len = (size_t)(page_page_js_end - page_page_js);
		files[2].data = page_page_css;
		files[2].len = (size_t)(page_page_css_end - page_page_css);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (strcmp(files[i].path, path) == 0)
			return &files[i];
	return NULL;
}
