/* Error codes: the text and name of each, from the one table in types.h. */
#include "coord/types.h"

const char *coord_strerror(int err)
{
    switch (err) {
#define COORD_ERR_TEXT_(name, value, text) \
    case (value):                          \
        return (text);
        COORD_ERR_TABLE(COORD_ERR_TEXT_)
#undef COORD_ERR_TEXT_
    }
    return "unknown error";
}

const char *coord_errname(int err)
{
    switch (err) {
#define COORD_ERR_NAME_(name, value, text) \
    case (value):                          \
        return #name;
        COORD_ERR_TABLE(COORD_ERR_NAME_)
#undef COORD_ERR_NAME_
    }
    return NULL;
}

int coord_err_wire(int err)
{
    return err <= -1000 ? COORD_ESYSTEM : err;
}
