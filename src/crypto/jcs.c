/* jcs: placeholder */
#include "crypto/crypto.h"
