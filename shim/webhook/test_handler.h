// A WebhookHandler for a test, over a spool in the test's own directory
// (TestDir()):
//
//   ASSERT_NO_FATAL_FAILURE(
//       OpenTestHandler(&verifier_, &backend_, options, &spool_, &handler_));
#ifndef JOBQUEUE_SHIM_WEBHOOK_TEST_HANDLER_H_
#define JOBQUEUE_SHIM_WEBHOOK_TEST_HANDLER_H_

#include <memory>

#include "shim/webhook/webhook_handler.h"

namespace jobqueue::shim {

// Opens `spool` and sets `handler` over it, `verifier` and `backend`, all of
// which must outlive it.
void OpenTestHandler(const WebhookSignatureVerifier* verifier,
                     JobQueueBackend* backend,
                     const WebhookHandler::Options& options,
                     std::unique_ptr<DeliverySpool>* spool,
                     std::unique_ptr<WebhookHandler>* handler);

}  // namespace jobqueue::shim

#endif  // JOBQUEUE_SHIM_WEBHOOK_TEST_HANDLER_H_
