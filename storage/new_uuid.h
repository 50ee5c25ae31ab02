// A random (version 4) UUID in canonical lower-case text form, for ids the
// stores choose themselves.
//
//   std::string id = NewUuid();  // "0b1f...-4...-8...-..."

#ifndef JOBQUEUE_STORAGE_NEW_UUID_H_
#define JOBQUEUE_STORAGE_NEW_UUID_H_

#include <string>

namespace jobqueue {

std::string NewUuid();

}  // namespace jobqueue

#endif  // JOBQUEUE_STORAGE_NEW_UUID_H_
