// The names in a directory, for tests that look at what a program left on
// disk (a spool, its corrupt/ and rejected/ folders).
//
//   EXPECT_THAT(FileNames(spool_dir + "/corrupt"), SizeIs(1));

#ifndef JOBQUEUE_TESTS_SUPPORT_FILE_NAMES_H_
#define JOBQUEUE_TESTS_SUPPORT_FILE_NAMES_H_

#include <string>
#include <vector>

namespace jobqueue {

// The names in `dir` that do not start with a dot, sorted; none when `dir`
// cannot be read.
std::vector<std::string> FileNames(const std::string& dir);

}  // namespace jobqueue

#endif  // JOBQUEUE_TESTS_SUPPORT_FILE_NAMES_H_
