#include "shim/webhook/test_handler.h"

#include "gtest/gtest.h"
#include "shim/test_dir.h"

namespace jobqueue::shim {

void OpenTestHandler(const WebhookSignatureVerifier* verifier,
                     JobQueueBackend* backend,
                     const WebhookHandler::Options& options,
                     std::unique_ptr<DeliverySpool>* spool,
                     std::unique_ptr<WebhookHandler>* handler) {
  absl::StatusOr<std::unique_ptr<DeliverySpool>> opened =
      DeliverySpool::Open(TestDir());
  ASSERT_TRUE(opened.ok()) << opened.status();
  *spool = *std::move(opened);
  *handler = std::make_unique<WebhookHandler>(verifier, backend, spool->get(),
                                              options);
}

}  // namespace jobqueue::shim
