/* The watch manager: which watches each tree change fires (zk-wire §12),
 * removeWatches/checkWatches (§10.4), the counts behind wchs and mntr, and
 * that allocation failure leaves the manager untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_heap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/tree.h"
#include "coord/util.h"
#include "coord/watch.h"

/* ---- fixture: a manager and a recording callback ------------------------------ */

#define EVENTS_MAX 64

struct event
{
    uint64_t watcher;
    int type;
    char path[64];
};

struct fixture
{
    struct coord_watches w;
    struct event events[EVENTS_MAX];
    size_t count;
};

static void record(void *arg, uint64_t watcher, int type, const char *path, size_t path_len)
{
    struct fixture *f = arg;
    assert_true(f->count < EVENTS_MAX);
    assert_true(path_len < sizeof f->events[0].path);
    struct event *e = &f->events[f->count++];
    e->watcher = watcher;
    e->type = type;
    memcpy(e->path, path, path_len);
    e->path[path_len] = '\0';
}

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(coord_watches_init(&f->w), COORD_OK);
    *state = f;
    return 0;
}

/* Also undoes a failing allocator left behind by a test that stopped early. */
static int heap_restore(void **state)
{
    (void)state;
    test_heap_restore();
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    heap_restore(state);
    coord_watches_close(&f->w);
    test_free(f);
    return 0;
}

static int add(struct fixture *f, uint64_t watcher, const char *path, int kind)
{
    return coord_watches_add(&f->w, watcher, path, strlen(path), kind);
}

static bool has(struct fixture *f, uint64_t watcher, const char *path, int kind)
{
    return coord_watches_has(&f->w, watcher, path, strlen(path), kind);
}

static int rm(struct fixture *f, uint64_t watcher, const char *path, int type, bool remove)
{
    return coord_watches_remove(&f->w, watcher, path, strlen(path), type, remove);
}

/* Trigger and return the number of events it produced (the log is reset). */
static size_t fire(struct fixture *f, int type, const char *path)
{
    f->count = 0;
    coord_watches_trigger(&f->w, type, path, strlen(path), record, f);
    return f->count;
}

static void assert_event(const struct fixture *f,
                         size_t i,
                         uint64_t watcher,
                         int type,
                         const char *path)
{
    assert_true(i < f->count);
    assert_int_equal(f->events[i].watcher, watcher);
    assert_int_equal(f->events[i].type, type);
    assert_string_equal(f->events[i].path, path);
}

/* ---- one-shot watches ------------------------------------------------------------ */

static void test_data_watch_fires_once_then_is_gone(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 7, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/a"), 1);
    assert_event(f, 0, 7, COORD_EV_DATA_CHANGED, "/a");
    assert_false(has(f, 7, "/a", COORD_WATCH_DATA));
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/a"), 0);
    assert_int_equal(coord_watches_count(&f->w), 0);
    assert_int_equal(coord_watches_path_count(&f->w), 0);
    assert_int_equal(coord_watches_watcher_count(&f->w), 0);
}

static void test_exists_watch_on_missing_node_fires_created(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 3, "/missing", COORD_WATCH_EXIST), COORD_OK);
    assert_true(has(f, 3, "/missing", COORD_WATCH_EXIST));
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/missing"), 0);
    assert_int_equal(fire(f, COORD_EV_CREATED, "/missing"), 1);
    assert_event(f, 0, 3, COORD_EV_CREATED, "/missing");
    assert_false(has(f, 3, "/missing", COORD_WATCH_EXIST));
    assert_int_equal(fire(f, COORD_EV_CREATED, "/missing"), 0);
}

static void test_delete_fires_data_and_child_watch_as_one_event(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 5, "/n", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 5, "/n", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(add(f, 6, "/n", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(coord_watches_count(&f->w), 3);
    assert_int_equal(fire(f, COORD_EV_DELETED, "/n"), 2);
    assert_event(f, 0, 5, COORD_EV_DELETED, "/n");
    assert_event(f, 1, 6, COORD_EV_DELETED, "/n");
    assert_false(has(f, 5, "/n", COORD_WATCH_DATA));
    assert_false(has(f, 5, "/n", COORD_WATCH_CHILD));
    assert_false(has(f, 6, "/n", COORD_WATCH_CHILD));
    assert_int_equal(coord_watches_count(&f->w), 0);
}

static void test_data_and_exists_watch_on_same_path_give_one_event(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 5, "/n", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 5, "/n", COORD_WATCH_EXIST), COORD_OK);
    assert_int_equal(coord_watches_count(&f->w), 1);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/n"), 1);
    assert_event(f, 0, 5, COORD_EV_DATA_CHANGED, "/n");
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/n"), 0);
}

static void test_child_watch_fires_children_changed_not_child_data_change(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 9, "/p", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/p/c"), 0);
    assert_int_equal(fire(f, COORD_EV_CREATED, "/p/c"), 0);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/p"), 0);
    assert_true(has(f, 9, "/p", COORD_WATCH_CHILD));
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/p"), 1);
    assert_event(f, 0, 9, COORD_EV_CHILDREN_CHANGED, "/p");
    assert_false(has(f, 9, "/p", COORD_WATCH_CHILD));
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/p"), 0);
}

static void test_children_changed_leaves_data_watch_in_place(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 9, "/p", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/p"), 0);
    assert_true(has(f, 9, "/p", COORD_WATCH_DATA));
}

/* ---- persistent watches -------------------------------------------------------------- */

static void test_persistent_watch_fires_repeatedly_not_for_grandchildren(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 4, "/p", COORD_WATCH_PERSISTENT), COORD_OK);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/p"), 1);
        assert_event(f, 0, 4, COORD_EV_DATA_CHANGED, "/p");
        assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/p"), 1);
        assert_event(f, 0, 4, COORD_EV_CHILDREN_CHANGED, "/p");
    }
    assert_int_equal(fire(f, COORD_EV_CREATED, "/p/c/g"), 0);
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/p/c"), 0);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/p/c"), 0);
    assert_int_equal(fire(f, COORD_EV_DELETED, "/p"), 1);
    assert_event(f, 0, 4, COORD_EV_DELETED, "/p");
    assert_true(has(f, 4, "/p", COORD_WATCH_PERSISTENT));
    assert_int_equal(fire(f, COORD_EV_CREATED, "/p"), 1);
    assert_event(f, 0, 4, COORD_EV_CREATED, "/p");
}

static void test_persistent_and_one_shot_watch_coexist_on_a_pair(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 4, "/p", COORD_WATCH_PERSISTENT), COORD_OK);
    assert_int_equal(add(f, 4, "/p", COORD_WATCH_DATA), COORD_OK);
    /* Still one pair per table: the modes share it (ZooKeeper 3.9). */
    assert_int_equal(coord_watches_count(&f->w), 2);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/p"), 1);
    assert_event(f, 0, 4, COORD_EV_DATA_CHANGED, "/p");
    assert_false(has(f, 4, "/p", COORD_WATCH_DATA));
    assert_true(has(f, 4, "/p", COORD_WATCH_PERSISTENT));
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/p"), 1);
    assert_int_equal(coord_watches_count(&f->w), 2);
}

static void test_recursive_watch_fires_for_descendants_never_children_changed(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 8, "/r", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_CREATED, "/r/a"), 1);
    assert_event(f, 0, 8, COORD_EV_CREATED, "/r/a");
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/r/a/b/c"), 1);
    assert_event(f, 0, 8, COORD_EV_DATA_CHANGED, "/r/a/b/c");
    assert_int_equal(fire(f, COORD_EV_DELETED, "/r/a"), 1);
    assert_event(f, 0, 8, COORD_EV_DELETED, "/r/a");
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/r"), 1);
    assert_event(f, 0, 8, COORD_EV_DATA_CHANGED, "/r");
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/r"), 0);
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/r/a"), 0);
    /* Neither a sibling with a common prefix nor the parent is covered. */
    assert_int_equal(fire(f, COORD_EV_CREATED, "/rx"), 0);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/"), 0);
    assert_true(has(f, 8, "/r", COORD_WATCH_PERSISTENT_RECURSIVE));
    assert_int_equal(coord_watches_count(&f->w), 1);
}

static void test_recursive_watch_on_root_covers_every_path(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 2, "/", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_CREATED, "/x"), 1);
    assert_event(f, 0, 2, COORD_EV_CREATED, "/x");
    assert_int_equal(fire(f, COORD_EV_DELETED, "/x/y/z"), 1);
    assert_event(f, 0, 2, COORD_EV_DELETED, "/x/y/z");
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/"), 1);
    assert_event(f, 0, 2, COORD_EV_DATA_CHANGED, "/");
}

static void test_one_event_per_watcher_with_standard_and_recursive_watches(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a/b", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 1, "/a/b", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(add(f, 1, "/a/b", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 1, "/", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_DELETED, "/a/b"), 1);
    assert_event(f, 0, 1, COORD_EV_DELETED, "/a/b");
    assert_false(has(f, 1, "/a/b", COORD_WATCH_DATA));
    assert_false(has(f, 1, "/a/b", COORD_WATCH_CHILD));
    assert_true(has(f, 1, "/a/b", COORD_WATCH_PERSISTENT_RECURSIVE));
    assert_int_equal(fire(f, COORD_EV_CREATED, "/a/b/c"), 1);
    assert_event(f, 0, 1, COORD_EV_CREATED, "/a/b/c");
}

static void test_recursive_counter_returns_to_zero(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 2, "/a", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 2, "/b", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(f->w.recursive_count, 3);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_DATA, true), COORD_OK);
    assert_int_equal(f->w.recursive_count, 2);
    coord_watches_remove_watcher(&f->w, 2);
    assert_int_equal(f->w.recursive_count, 0);
    assert_int_equal(fire(f, COORD_EV_CREATED, "/a/x"), 0);
}

/* ---- delivery order ----------------------------------------------------------------------- */

static void test_delivery_order_is_ascending_watcher_id(void **state)
{
    struct fixture *f = *state;
    const uint64_t ids[] = {42, 7, 0xFFFFFFFFFFFFFFFFULL, 1000, 3, 99, 12};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int kind = i % 2 == 0 ? COORD_WATCH_DATA : COORD_WATCH_PERSISTENT_RECURSIVE;
        assert_int_equal(add(f, ids[i], i % 2 == 0 ? "/d/e" : "/d", kind), COORD_OK);
    }
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/d/e"), 7);
    const uint64_t sorted[] = {3, 7, 12, 42, 99, 1000, 0xFFFFFFFFFFFFFFFFULL};
    for (size_t i = 0; i < 7; i++) {
        assert_event(f, i, sorted[i], COORD_EV_DATA_CHANGED, "/d/e");
    }
    /* The one-shot ones are gone, the recursive ones (odd positions) remain. */
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/d/e"), 3);
    assert_event(f, 0, 7, COORD_EV_DATA_CHANGED, "/d/e");
    assert_event(f, 1, 99, COORD_EV_DATA_CHANGED, "/d/e");
    assert_event(f, 2, 1000, COORD_EV_DATA_CHANGED, "/d/e");
}

/* ---- removeWatches / checkWatches ---------------------------------------------------------- */

static void test_remove_watches_returns_nowatcher_when_nothing_matches(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_ANY, true), COORD_ENOWATCHER);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_CHILDREN, true), COORD_ENOWATCHER);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_CHILDREN, false), COORD_ENOWATCHER);
    assert_int_equal(rm(f, 2, "/a", COORD_WATCHER_DATA, true), COORD_ENOWATCHER);
    assert_int_equal(rm(f, 1, "/b", COORD_WATCHER_DATA, true), COORD_ENOWATCHER);
    assert_int_equal(rm(f, 0, "/a", COORD_WATCHER_DATA, true), COORD_ENOWATCHER);
    assert_true(has(f, 1, "/a", COORD_WATCH_DATA));
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_DATA, true), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_DATA, true), COORD_ENOWATCHER);
    assert_int_equal(coord_watches_path_count(&f->w), 0);
    assert_int_equal(coord_watches_watcher_count(&f->w), 0);
}

static void test_remove_watches_by_type_removes_only_that_table(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_CHILDREN, true), COORD_OK);
    assert_true(has(f, 1, "/a", COORD_WATCH_DATA));
    assert_false(has(f, 1, "/a", COORD_WATCH_CHILD));
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/a"), 0);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_DATA, true), COORD_OK);
    assert_false(has(f, 1, "/a", COORD_WATCH_DATA));
    assert_true(has(f, 1, "/a", COORD_WATCH_CHILD));
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/a"), 0);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_ANY, true), COORD_OK);
    assert_false(has(f, 1, "/a", COORD_WATCH_DATA));
    assert_false(has(f, 1, "/a", COORD_WATCH_CHILD));
    assert_int_equal(coord_watches_count(&f->w), 0);
}

static void test_remove_children_keeps_data_side_of_persistent_watch(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_PERSISTENT), COORD_OK);
    assert_int_equal(coord_watches_count(&f->w), 2);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_CHILDREN, true), COORD_OK);
    assert_int_equal(coord_watches_count(&f->w), 1);
    assert_true(has(f, 1, "/a", COORD_WATCH_PERSISTENT));
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/a"), 0);
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/a"), 1);
    assert_event(f, 0, 1, COORD_EV_DATA_CHANGED, "/a");
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_CHILDREN, true), COORD_ENOWATCHER);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_DATA, true), COORD_OK);
    assert_false(has(f, 1, "/a", COORD_WATCH_PERSISTENT));
    assert_int_equal(coord_watches_count(&f->w), 0);
}

static void test_remove_data_drops_recursive_watch(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/r", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(rm(f, 1, "/r", COORD_WATCHER_CHILDREN, true), COORD_ENOWATCHER);
    assert_int_equal(rm(f, 1, "/r", COORD_WATCHER_DATA, true), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_CREATED, "/r/x"), 0);
    assert_int_equal(f->w.recursive_count, 0);
}

static void test_remove_watches_types_4_and_5_give_marshalling_error(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_PERSISTENT), COORD_OK);
    assert_int_equal(add(f, 1, "/b", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", 4, true), COORD_EMARSHALLING);
    assert_int_equal(rm(f, 1, "/b", 5, true), COORD_EMARSHALLING);
    assert_int_equal(rm(f, 1, "/a", 0, false), COORD_EMARSHALLING);
    assert_int_equal(rm(f, 9, "/none", -1, true), COORD_EMARSHALLING);
    assert_true(has(f, 1, "/a", COORD_WATCH_PERSISTENT));
    assert_true(has(f, 1, "/b", COORD_WATCH_PERSISTENT_RECURSIVE));
}

static void test_check_watches_reports_without_removing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_CHILDREN, false), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_ANY, false), COORD_OK);
    assert_int_equal(rm(f, 1, "/a", COORD_WATCHER_DATA, false), COORD_ENOWATCHER);
    assert_true(has(f, 1, "/a", COORD_WATCH_CHILD));
    assert_int_equal(coord_watches_count(&f->w), 1);
}

/* ---- connections closing, counts, dumps ------------------------------------------------------ */

static void test_remove_watcher_drops_everything_and_counts_go_to_zero(void **state)
{
    struct fixture *f = *state;
    char path[16];
    for (int i = 0; i < 20; i++) {
        snprintf(path, sizeof path, "/n%d", i);
        assert_int_equal(add(f, 1, path, COORD_WATCH_DATA), COORD_OK);
        assert_int_equal(add(f, 1, path, COORD_WATCH_PERSISTENT), COORD_OK);
        assert_int_equal(add(f, 2, path, COORD_WATCH_CHILD), COORD_OK);
    }
    assert_int_equal(add(f, 1, "/", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(coord_watches_count(&f->w), 20 * 2 + 20 + 1);
    assert_int_equal(coord_watches_path_count(&f->w), 21);
    assert_int_equal(coord_watches_watcher_count(&f->w), 2);
    coord_watches_remove_watcher(&f->w, 1);
    assert_int_equal(coord_watches_count(&f->w), 20);
    assert_int_equal(coord_watches_path_count(&f->w), 20);
    assert_int_equal(coord_watches_watcher_count(&f->w), 1);
    assert_false(has(f, 1, "/n3", COORD_WATCH_DATA));
    assert_true(has(f, 2, "/n3", COORD_WATCH_CHILD));
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/n3"), 0);
    assert_int_equal(fire(f, COORD_EV_CHILDREN_CHANGED, "/n3"), 1);
    assert_event(f, 0, 2, COORD_EV_CHILDREN_CHANGED, "/n3");
    coord_watches_remove_watcher(&f->w, 2);
    coord_watches_remove_watcher(&f->w, 2);
    coord_watches_remove_watcher(&f->w, 0);
    assert_int_equal(coord_watches_count(&f->w), 0);
    assert_int_equal(coord_watches_path_count(&f->w), 0);
    assert_int_equal(coord_watches_watcher_count(&f->w), 0);
    assert_int_equal(f->w.recursive_count, 0);
}

static void test_counts_follow_zookeeper_tables(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(add(f, 2, "/a", COORD_WATCH_PERSISTENT), COORD_OK);
    assert_int_equal(add(f, 2, "/b", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 3, "/c", COORD_WATCH_CHILD), COORD_OK);
    /* mntr zk_watch_count: data table (1/a 2/a 2/b) + child table (1/a 2/a 3/c). */
    assert_int_equal(coord_watches_count(&f->w), 6);
    assert_int_equal(coord_watches_path_count(&f->w), 3);
    assert_int_equal(coord_watches_watcher_count(&f->w), 3);
    /* wchs: the data table only. */
    struct coord_watches_summary s;
    coord_watches_summarize(&f->w, COORD_WATCH_DATA_TABLE, &s);
    assert_int_equal(s.watcher_count, 2);
    assert_int_equal(s.path_count, 2);
    assert_int_equal(s.watch_count, 3);
    coord_watches_summarize(&f->w, COORD_WATCH_CHILD_TABLE, &s);
    assert_int_equal(s.watcher_count, 3);
    assert_int_equal(s.path_count, 2);
    assert_int_equal(s.watch_count, 3);
    /* Adding what a pair already holds counts nothing. */
    assert_int_equal(add(f, 2, "/a", COORD_WATCH_PERSISTENT), COORD_OK);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_EXIST), COORD_OK);
    assert_int_equal(coord_watches_count(&f->w), 6);
}

struct dump
{
    char text[1024];
    size_t len;
};

static void dump_pair(void *arg, uint64_t watcher, const char *path, size_t len, int kinds)
{
    struct dump *d = arg;
    int n = snprintf(d->text + d->len, sizeof d->text - d->len, "%llu %.*s %d;",
                     (unsigned long long)watcher, (int)len, path, kinds);
    assert_true(n > 0 && (size_t)n < sizeof d->text - d->len);
    d->len += (size_t)n;
}

static void test_foreach_orders_by_watcher_then_path(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 9, "/z", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 2, "/m", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(add(f, 9, "/a", COORD_WATCH_PERSISTENT), COORD_OK);
    assert_int_equal(add(f, 2, "/a/b", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 5, "/m", COORD_WATCH_EXIST), COORD_OK);
    assert_int_equal(add(f, 2, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 2, "/a", COORD_WATCH_CHILD), COORD_OK);
    struct dump d = {.len = 0};
    coord_watches_foreach(&f->w, dump_pair, &d);
    assert_string_equal(d.text, "2 /a 3;2 /a/b 16;2 /m 2;5 /m 1;9 /a 12;9 /z 1;");
    d.len = 0;
    coord_watches_foreach_path(&f->w, dump_pair, &d);
    assert_string_equal(d.text, "2 /a 3;9 /a 12;2 /a/b 16;2 /m 2;5 /m 1;9 /z 1;");
    /* The in-place sorting keeps the manager intact. */
    coord_watches_remove_watcher(&f->w, 2);
    assert_int_equal(fire(f, COORD_EV_DELETED, "/m"), 1);
    assert_event(f, 0, 5, COORD_EV_DELETED, "/m");
    d.len = 0;
    d.text[0] = '\0';
    coord_watches_foreach(&f->w, dump_pair, &d);
    assert_string_equal(d.text, "9 /a 12;9 /z 1;");
}

/* ---- arguments and paths -------------------------------------------------------------------- */

static void test_add_rejects_bad_kind_and_watcher_zero(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 0, "/a", COORD_WATCH_DATA), COORD_EBADARGUMENTS);
    assert_int_equal(add(f, 1, "/a", 0), COORD_EBADARGUMENTS);
    assert_int_equal(add(f, 1, "/a", 6), COORD_EBADARGUMENTS);
    assert_int_equal(add(f, 1, "/a", -1), COORD_EBADARGUMENTS);
    assert_int_equal(coord_watches_add(&f->w, 1, NULL, 3, COORD_WATCH_DATA), COORD_EBADARGUMENTS);
    assert_false(has(f, 1, "/a", 0));
    assert_int_equal(coord_watches_count(&f->w), 0);
    assert_int_equal(coord_watches_watcher_count(&f->w), 0);
}

static void test_add_copies_path_bytes(void **state)
{
    struct fixture *f = *state;
    char buf[] = "/a/bXYZ";
    assert_int_equal(coord_watches_add(&f->w, 1, buf, 4, COORD_WATCH_DATA), COORD_OK);
    memset(buf, '#', sizeof buf - 1);
    assert_true(has(f, 1, "/a/b", COORD_WATCH_DATA));
    assert_false(has(f, 1, "/a/bXYZ", COORD_WATCH_DATA));
    assert_int_equal(fire(f, COORD_EV_DATA_CHANGED, "/a/b"), 1);
    assert_event(f, 0, 1, COORD_EV_DATA_CHANGED, "/a/b");
}

static void test_unknown_event_type_fires_nothing(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(fire(f, COORD_EV_NONE, "/a"), 0);
    assert_int_equal(fire(f, 5, "/a"), 0);
    assert_true(has(f, 1, "/a", COORD_WATCH_DATA));
}

static void add_from_callback(void *arg,
                              uint64_t watcher,
                              int type,
                              const char *path,
                              size_t path_len)
{
    struct fixture *f = arg;
    record(arg, watcher, type, path, path_len);
    expect_assert_failure(coord_watches_add(&f->w, watcher, path, path_len, COORD_WATCH_DATA));
    expect_assert_failure(coord_watches_remove_watcher(&f->w, watcher));
}

static void test_callback_cannot_change_the_manager(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
    f->count = 0;
    coord_watches_trigger(&f->w, COORD_EV_DATA_CHANGED, "/a", 2, add_from_callback, f);
    assert_int_equal(f->count, 1);
    assert_false(f->w.busy);
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
}

/* ---- allocation failure ------------------------------------------------------------------------
 */

struct step
{
    uint64_t watcher;
    const char *path;
    int kind;
};

/* Enough adds to grow every array and map past its first size: 14 paths for
 * watcher 1 (refs 4 -> 8 -> 16, map 16 -> 32), 10 watchers on /p0 (slots
 * 2 -> 4 -> 8 -> 16, scratch 8 -> 16). */
static size_t script(struct step *steps)
{
    static const char *paths[] = {"/p0", "/p1", "/p2", "/p3",  "/p4",  "/p5",  "/p6",
                                  "/p7", "/p8", "/p9", "/p10", "/p11", "/p12", "/p13"};
    size_t n = 0;
    for (size_t i = 0; i < 14; i++) {
        steps[n++] = (struct step){1, paths[i], COORD_WATCH_DATA};
    }
    for (uint64_t id = 2; id <= 11; id++) {
        steps[n++] = (struct step){id, "/p0", COORD_WATCH_CHILD};
    }
    steps[n++] = (struct step){1, "/p0", COORD_WATCH_PERSISTENT};
    steps[n++] = (struct step){12, "/p13", COORD_WATCH_PERSISTENT_RECURSIVE};
    return n;
}

static void snapshot(struct coord_watches *w, struct dump *d)
{
    d->len = 0;
    d->text[0] = '\0';
    coord_watches_foreach(w, dump_pair, d);
}

static void test_failed_add_leaves_manager_unchanged(void **state)
{
    (void)state;
    struct step steps[32];
    size_t n = script(steps);
    bool failed_once = true;
    for (size_t budget = 0; failed_once; budget++) {
        assert_true(budget < 500);
        failed_once = false;
        struct coord_watches w;
        assert_int_equal(coord_watches_init(&w), COORD_OK);
        test_heap_fail_after((long)budget);
        for (size_t i = 0; i < n; i++) {
            struct dump before, after;
            snapshot(&w, &before);
            size_t count = coord_watches_count(&w);
            size_t paths = coord_watches_path_count(&w);
            size_t watchers = coord_watches_watcher_count(&w);
            const struct step *s = &steps[i];
            int rc = coord_watches_add(&w, s->watcher, s->path, strlen(s->path), s->kind);
            if (rc == COORD_ENOMEM) {
                failed_once = true;
                snapshot(&w, &after);
                assert_string_equal(before.text, after.text);
                assert_int_equal(coord_watches_count(&w), count);
                assert_int_equal(coord_watches_path_count(&w), paths);
                assert_int_equal(coord_watches_watcher_count(&w), watchers);
                assert_false(coord_watches_has(&w, s->watcher, s->path, strlen(s->path), s->kind));
                test_heap_fail_after(-1);
                rc = coord_watches_add(&w, s->watcher, s->path, strlen(s->path), s->kind);
            }
            assert_int_equal(rc, COORD_OK);
        }
        test_heap_restore();
        assert_int_equal(coord_watches_count(&w), 14 + 10 + 1 + 1);
        assert_int_equal(coord_watches_path_count(&w), 14);
        assert_int_equal(coord_watches_watcher_count(&w), 12);
        assert_int_equal(w.recursive_count, 1);
        struct coord_watches_summary s;
        coord_watches_summarize(&w, COORD_WATCH_DATA_TABLE, &s);
        assert_int_equal(s.watch_count, 14 + 1);
        coord_watches_close(&w);
    }
}

static void test_trigger_remove_and_dumps_never_allocate(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add(f, 1, "/a", COORD_WATCH_DATA), COORD_OK);
    assert_int_equal(add(f, 2, "/a", COORD_WATCH_CHILD), COORD_OK);
    assert_int_equal(add(f, 3, "/", COORD_WATCH_PERSISTENT_RECURSIVE), COORD_OK);
    assert_int_equal(add(f, 4, "/b", COORD_WATCH_PERSISTENT), COORD_OK);
    test_heap_fail_after(0);
    assert_int_equal(fire(f, COORD_EV_DELETED, "/a"), 3);
    assert_event(f, 0, 1, COORD_EV_DELETED, "/a");
    assert_event(f, 1, 2, COORD_EV_DELETED, "/a");
    assert_event(f, 2, 3, COORD_EV_DELETED, "/a");
    struct dump d = {.len = 0};
    coord_watches_foreach(&f->w, dump_pair, &d);
    assert_string_equal(d.text, "3 / 16;4 /b 12;");
    d.len = 0;
    coord_watches_foreach_path(&f->w, dump_pair, &d);
    assert_string_equal(d.text, "3 / 16;4 /b 12;");
    assert_int_equal(rm(f, 4, "/b", COORD_WATCHER_CHILDREN, true), COORD_OK);
    coord_watches_remove_watcher(&f->w, 3);
    assert_int_equal(coord_watches_count(&f->w), 1);
    test_heap_restore();
}

/* ---- against a model ----------------------------------------------------------------------------
 */

/* A tiny tree and a dense model of every (watcher, path) bit set; random
 * operations must leave the manager and the model agreeing on everything. */
#define MODEL_WATCHERS 4
#define MODEL_PATHS 6

static const char *model_path[MODEL_PATHS] = {"/", "/a", "/a/b", "/a/b/c", "/a/d", "/e"};
static const int model_parent[MODEL_PATHS] = {-1, 0, 1, 2, 1, 0};

struct model
{
    unsigned bits[MODEL_WATCHERS][MODEL_PATHS];
};

static unsigned model_kind_bits(int kind)
{
    switch (kind) {
        case COORD_WATCH_DATA:
        case COORD_WATCH_EXIST:
            return COORD_WATCH_BIT_DATA;
        case COORD_WATCH_CHILD:
            return COORD_WATCH_BIT_CHILD;
        case COORD_WATCH_PERSISTENT:
            return COORD_WATCH_BIT_PERSISTENT_DATA | COORD_WATCH_BIT_PERSISTENT_CHILD;
        default:
            return COORD_WATCH_BIT_RECURSIVE;
    }
}

static unsigned model_type_table(int type)
{
    if (type == COORD_WATCHER_CHILDREN) {
        return COORD_WATCH_CHILD_TABLE;
    }
    if (type == COORD_WATCHER_DATA) {
        return COORD_WATCH_DATA_TABLE;
    }
    return COORD_WATCH_DATA_TABLE | COORD_WATCH_CHILD_TABLE;
}

/* Which watchers the model says fire, clearing their one-shot bits. */
static size_t model_trigger(struct model *m, int type, int path, uint64_t *fired)
{
    unsigned fire = COORD_WATCH_DATA_TABLE;
    unsigned clear = COORD_WATCH_BIT_DATA;
    if (type == COORD_EV_DELETED) {
        fire |= COORD_WATCH_CHILD_TABLE;
        clear |= COORD_WATCH_BIT_CHILD;
    } else if (type == COORD_EV_CHILDREN_CHANGED) {
        fire = COORD_WATCH_CHILD_TABLE;
        clear = COORD_WATCH_BIT_CHILD;
    }
    size_t n = 0;
    for (int v = 0; v < MODEL_WATCHERS; v++) {
        bool hit = (m->bits[v][path] & fire) != 0;
        for (int q = model_parent[path]; q >= 0 && type != COORD_EV_CHILDREN_CHANGED;
             q = model_parent[q]) {
            hit = hit || (m->bits[v][q] & COORD_WATCH_BIT_RECURSIVE) != 0;
        }
        if (hit) {
            fired[n++] = (uint64_t)v + 1;
            m->bits[v][path] &= ~clear;
        }
    }
    return n;
}

/* The dumps list exactly the model's pairs, in their documented orders
 * (model_path is in byte order already). */
static void model_check_dumps(struct fixture *f, const struct model *m)
{
    struct dump want = {.len = 0}, got = {.len = 0};
    for (int v = 0; v < MODEL_WATCHERS; v++) {
        for (int p = 0; p < MODEL_PATHS; p++) {
            if (m->bits[v][p] != 0) {
                dump_pair(&want, (uint64_t)v + 1, model_path[p], strlen(model_path[p]),
                          (int)m->bits[v][p]);
            }
        }
    }
    snapshot(&f->w, &got);
    assert_string_equal(got.text, want.len == 0 ? "" : want.text);
    want.len = 0;
    for (int p = 0; p < MODEL_PATHS; p++) {
        for (int v = 0; v < MODEL_WATCHERS; v++) {
            if (m->bits[v][p] != 0) {
                dump_pair(&want, (uint64_t)v + 1, model_path[p], strlen(model_path[p]),
                          (int)m->bits[v][p]);
            }
        }
    }
    got.len = 0;
    got.text[0] = '\0';
    coord_watches_foreach_path(&f->w, dump_pair, &got);
    assert_string_equal(got.text, want.len == 0 ? "" : want.text);
}

static void model_check(struct fixture *f, const struct model *m)
{
    size_t count = 0, paths = 0, watchers = 0, recursive = 0;
    bool path_used[MODEL_PATHS] = {false};
    for (int v = 0; v < MODEL_WATCHERS; v++) {
        bool used = false;
        for (int p = 0; p < MODEL_PATHS; p++) {
            unsigned b = m->bits[v][p];
            count += ((b & COORD_WATCH_DATA_TABLE) != 0) + ((b & COORD_WATCH_CHILD_TABLE) != 0);
            recursive += (b & COORD_WATCH_BIT_RECURSIVE) != 0;
            used = used || b != 0;
            path_used[p] = path_used[p] || b != 0;
            for (int kind = COORD_WATCH_DATA; kind <= COORD_WATCH_PERSISTENT_RECURSIVE; kind++) {
                assert_int_equal(has(f, (uint64_t)v + 1, model_path[p], kind),
                                 (b & model_kind_bits(kind)) != 0);
            }
        }
        watchers += used;
    }
    for (int p = 0; p < MODEL_PATHS; p++) {
        paths += path_used[p];
    }
    assert_int_equal(coord_watches_count(&f->w), count);
    assert_int_equal(coord_watches_path_count(&f->w), paths);
    model_check_dumps(f, m);
    assert_int_equal(coord_watches_watcher_count(&f->w), watchers);
    assert_int_equal(f->w.recursive_count, recursive);
}

static void test_random_operations_agree_with_model(void **state)
{
    struct fixture *f = *state;
    struct model m;
    memset(&m, 0, sizeof m);
    struct coord_rng rng;
    coord_rng_seed(&rng, 20240607);
    for (int step = 0; step < 5000; step++) {
        int v = (int)coord_rng_below(&rng, MODEL_WATCHERS);
        int p = (int)coord_rng_below(&rng, MODEL_PATHS);
        uint64_t id = (uint64_t)v + 1;
        switch (coord_rng_below(&rng, 10)) {
            case 0:
            case 1:
            case 2: {
                int kind = 1 + (int)coord_rng_below(&rng, 5);
                assert_int_equal(add(f, id, model_path[p], kind), COORD_OK);
                m.bits[v][p] |= model_kind_bits(kind);
                break;
            }
            case 3: {
                int type = 1 + (int)coord_rng_below(&rng, 3);
                bool remove = coord_rng_below(&rng, 2) == 0;
                unsigned table = model_type_table(type);
                int expect = (m.bits[v][p] & table) != 0 ? COORD_OK : COORD_ENOWATCHER;
                assert_int_equal(rm(f, id, model_path[p], type, remove), expect);
                if (remove) {
                    m.bits[v][p] &= ~table;
                }
                break;
            }
            case 4:
                if (coord_rng_below(&rng, 4) == 0) {
                    coord_watches_remove_watcher(&f->w, id);
                    memset(m.bits[v], 0, sizeof m.bits[v]);
                }
                break;
            default: {
                int type = 1 + (int)coord_rng_below(&rng, 4);
                uint64_t fired[MODEL_WATCHERS];
                size_t n = model_trigger(&m, type, p, fired);
                assert_int_equal(fire(f, type, model_path[p]), n);
                for (size_t k = 0; k < n; k++) {
                    assert_event(f, k, fired[k], type, model_path[p]);
                }
                break;
            }
        }
        model_check(f, &m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_data_watch_fires_once_then_is_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists_watch_on_missing_node_fires_created, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_fires_data_and_child_watch_as_one_event, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_data_and_exists_watch_on_same_path_give_one_event,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_child_watch_fires_children_changed_not_child_data_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children_changed_leaves_data_watch_in_place, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_persistent_watch_fires_repeatedly_not_for_grandchildren, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_and_one_shot_watch_coexist_on_a_pair, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_recursive_watch_fires_for_descendants_never_children_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recursive_watch_on_root_covers_every_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_one_event_per_watcher_with_standard_and_recursive_watches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recursive_counter_returns_to_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_order_is_ascending_watcher_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_watches_returns_nowatcher_when_nothing_matches,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_watches_by_type_removes_only_that_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_children_keeps_data_side_of_persistent_watch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_data_drops_recursive_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_watches_types_4_and_5_give_marshalling_error,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_watches_reports_without_removing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_remove_watcher_drops_everything_and_counts_go_to_zero,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_follow_zookeeper_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreach_orders_by_watcher_then_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_rejects_bad_kind_and_watcher_zero, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_add_copies_path_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_event_type_fires_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_cannot_change_the_manager, setup, teardown),
        cmocka_unit_test_teardown(test_failed_add_leaves_manager_unchanged, heap_restore),
        cmocka_unit_test_setup_teardown(test_trigger_remove_and_dumps_never_allocate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_operations_agree_with_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
