#ifndef MCPCHAT_TESTS_UNIT_H
#define MCPCHAT_TESTS_UNIT_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

/* The one runner every CUnit suite here shares. Test lists end with { NULL, NULL }; the
 * suite list ends with an entry whose name is NULL. */

/* Assertions that stop the test (jumping to its `out:` cleanup) instead of longjmp-ing past
 * it, and asserts that print a message when they fail. */
#define REQUIRE(cond)                                                                    \
	do {                                                                             \
		if (!(cond)) {                                                           \
			CU_assertImplementation(CU_FALSE, __LINE__, "REQUIRE(" #cond ")", \
						__FILE__, "", CU_FALSE);                 \
			goto out;                                                        \
		}                                                                        \
	} while (0)

#define CHECKF(cond, ...)                                                           \
	do {                                                                        \
		bool ok_ = (cond);                                                  \
		if (!ok_) {                                                         \
			printf("\n    FAILED %s: ", #cond);                         \
			printf(__VA_ARGS__);                                        \
			printf("\n");                                               \
		}                                                                   \
		CU_assertImplementation(ok_, __LINE__, #cond, __FILE__, "", CU_FALSE); \
	} while (0)

struct unit_test {
	const char *name;
	CU_TestFunc fn;
};

struct unit_suite {
	const char *name;
	const struct unit_test *tests;
	CU_InitializeFunc init;    /* once before the suite, or NULL */
	CU_CleanupFunc clean;      /* once after it, or NULL */
	CU_SetUpFunc setup;        /* before each test, or NULL */
	CU_TearDownFunc teardown;  /* after each test, or NULL */
};

/* Registers the suites (with only, just the tests whose name contains it), runs them
 * verbosely and returns the exit status: 0 when all passed, 1 when anything failed, could
 * not be registered, or no test ran at all (a filter that matched nothing). */
static inline int unit_main_only(const struct unit_suite *suites, const char *only)
{
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	for (; suites->name; suites++) {
		CU_pSuite s = CU_add_suite_with_setup_and_teardown(suites->name, suites->init,
								   suites->clean, suites->setup,
								   suites->teardown);
		for (const struct unit_test *t = suites->tests; s && t->name; t++)
			if ((!only || strstr(t->name, only)) && !CU_add_test(s, t->name, t->fn))
				s = NULL;
		if (!s) {
			CU_cleanup_registry();
			return 1;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	/* A suite whose init failed ran nothing: that is a failure too. */
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures() +
		 CU_get_number_of_suites_failed();
	if (CU_get_number_of_tests_run() == 0)
		failed = 1;
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

static inline int unit_main(const struct unit_suite *suites)
{
	return unit_main_only(suites, NULL);
}

#endif
