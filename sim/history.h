/* What a coordsim run records for the checkers: client operations in the
 * manner of Jepsen (invoke, then ok / fail / info) and the protocol events
 * the servers traced. Times are global simulated seconds. */
#ifndef COORD_SIM_HISTORY_H
#define COORD_SIM_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sim_op_type {
    SIM_OP_READ = 1,         /* sync + getData of the key's znode: value read. */
    SIM_OP_WRITE,            /* setData, version -1. */
    SIM_OP_CAS,              /* getData, then setData with that version: expect -> value. */
    SIM_OP_CREATE_EPHEMERAL, /* Sessions workload. */
    SIM_OP_OTHER,
};

enum sim_op_status {
    SIM_OP_PENDING = 0, /* Invoked; no completion yet (the run ended). Treated as info. */
    SIM_OP_OK,
    SIM_OP_FAIL, /* Certainly not applied (e.g. BADVERSION, NONODE, refused before sending). */
    SIM_OP_INFO, /* Unknown: timeout, connection loss with the request sent. */
};

/* One client operation, from invocation to completion. Register values are
 * small integers; a read of a key never written reads 0 (the znodes are
 * created with value 0 before the workload starts). */
struct sim_op
{
    uint32_t client; /* 1.. */
    uint32_t key;    /* 0.. */
    enum sim_op_type type;
    enum sim_op_status status;
    int64_t value;  /* WRITE/CAS: the value written; READ: the value read (when ok). */
    int64_t expect; /* CAS: the value it required. */
    double invoke_s;
    double complete_s; /* Ignored unless status is OK or FAIL. */
    int32_t err;       /* The ZooKeeper error code of a failure, or 0. */
    int64_t zxid;      /* Of the reply, when there was one. */
    uint32_t server;   /* The server the client was connected to at invocation (0 = none). */
};

#endif /* COORD_SIM_HISTORY_H */
