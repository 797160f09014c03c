/* siwe: placeholder */
#include "crypto/crypto.h"
