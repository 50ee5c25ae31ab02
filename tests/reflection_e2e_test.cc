// Server reflection as the tools of README.md use it, against the real
// jobqueue_server process (a process of its own, so nothing this test links
// can stand in for a descriptor the server fails to serve):
//
// - a C++ client that does what grpcurl does before it can call anything
//   (ListServices, FileContainingSymbol for each service, FileByFilename for
//   every dependency until the set is closed), builds a DescriptorPool from
//   those files alone and calls grpc.health.v1.Health through dynamic
//   messages and a generic stub;
// - buf curl, an independent client, over gRPC with reflection: it lists,
//   checks health, and runs every `grpcurl` line of README.md and of the
//   pages of docs/ translated to buf curl with the same JSON bodies.
//
// buf comes from tools/npm: $NODE_PATH must name its node_modules, and node
// must be on $PATH (tools/test passes both). Missing, the tests fail.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "jobqueue/v1/jobqueue.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"

namespace jobqueue {
namespace {

namespace pb = ::google::protobuf;
using ::grpc::reflection::v1alpha::ServerReflection;
using ::grpc::reflection::v1alpha::ServerReflectionRequest;
using ::grpc::reflection::v1alpha::ServerReflectionResponse;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

constexpr char kHealth[] = "grpc.health.v1.Health";
constexpr char kReflection[] = "grpc.reflection.v1alpha.ServerReflection";
constexpr char kJobQueue[] = "jobqueue.v1.JobQueue";
// The address README.md's lines use: tools/run's.
constexpr char kReadmeAddress[] = "127.0.0.1:50051";

std::unique_ptr<grpc::ClientContext> Context(
    absl::Duration timeout = absl::Seconds(10)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

// --- What grpcurl does: the schema from reflection, calls by descriptor ---

struct Schema {
  std::vector<std::string> services;
  std::map<std::string, pb::FileDescriptorProto> files;
};

// ListServices, then FileContainingSymbol for each service, then
// FileByFilename for every dependency not received yet, until the files are
// closed under their imports: what grpcurl (and buf curl) ask before any
// call. The first error the server answers fails the whole fetch.
absl::StatusOr<Schema> FetchSchema(
    const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = ServerReflection::NewStub(channel);
  auto context = Context();
  auto stream = stub->ServerReflectionInfo(context.get());
  Schema schema;
  auto ask = [&](const ServerReflectionRequest& request,
                 const std::string& what) -> absl::Status {
    ServerReflectionResponse response;
    if (!stream->Write(request) || !stream->Read(&response)) {
      return absl::UnavailableError(
          absl::StrCat("the reflection stream ended at ", what));
    }
    if (response.has_error_response()) {
      return absl::Status(
          static_cast<absl::StatusCode>(response.error_response().error_code()),
          absl::StrCat(what, ": ", response.error_response().error_message()));
    }
    for (const auto& service : response.list_services_response().service()) {
      schema.services.push_back(service.name());
    }
    for (const std::string& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      pb::FileDescriptorProto file;
      if (!file.ParseFromString(bytes)) {
        return absl::InternalError(
            absl::StrCat(what, ": an unparsable FileDescriptorProto"));
      }
      schema.files.emplace(file.name(), std::move(file));
    }
    return absl::OkStatus();
  };

  ServerReflectionRequest request;
  request.set_list_services("*");
  if (absl::Status s = ask(request, "ListServices"); !s.ok()) return s;
  for (const std::string& service : schema.services) {
    request.set_file_containing_symbol(service);
    const size_t before = schema.files.size();
    if (absl::Status s = ask(request, "FileContainingSymbol " + service);
        !s.ok()) {
      return s;
    }
    bool found = schema.files.size() > before;
    for (const auto& [name, file] : schema.files) {
      for (const auto& s : file.service()) {
        found = found || absl::StrCat(file.package(), ".", s.name()) == service;
      }
    }
    if (!found) {
      return absl::NotFoundError(
          absl::StrCat("FileContainingSymbol ", service, ": no file"));
    }
  }
  for (bool closed = false; !closed;) {
    closed = true;
    std::set<std::string> missing;
    for (const auto& [name, file] : schema.files) {
      for (const std::string& dependency : file.dependency()) {
        if (!schema.files.count(dependency)) missing.insert(dependency);
      }
    }
    for (const std::string& name : missing) {
      closed = false;
      request.set_file_by_filename(name);
      if (absl::Status s = ask(request, "FileByFilename " + name); !s.ok()) {
        return s;
      }
      if (!schema.files.count(name)) {
        return absl::NotFoundError(
            absl::StrCat("FileByFilename ", name, ": a different file came"));
      }
    }
  }
  stream->WritesDone();
  grpc::Status finished = stream->Finish();
  if (!finished.ok()) {
    return absl::UnavailableError(
        absl::StrCat("reflection stream: ", finished.error_message()));
  }
  return schema;
}

// Builds every file of `schema` into `pool` (which has nothing else),
// dependencies first.
absl::Status BuildPool(const Schema& schema, pb::DescriptorPool* pool) {
  std::function<absl::Status(const std::string&)> build =
      [&](const std::string& name) -> absl::Status {
    if (pool->FindFileByName(name) != nullptr) return absl::OkStatus();
    auto file = schema.files.find(name);
    if (file == schema.files.end()) {
      return absl::NotFoundError(absl::StrCat("no file ", name));
    }
    for (const std::string& dependency : file->second.dependency()) {
      if (absl::Status s = build(dependency); !s.ok()) return s;
    }
    if (pool->BuildFile(file->second) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot build ", name));
    }
    return absl::OkStatus();
  };
  for (const auto& [name, file] : schema.files) {
    if (absl::Status s = build(name); !s.ok()) return s;
  }
  return absl::OkStatus();
}

grpc::ByteBuffer ToBuffer(const pb::Message& message) {
  const std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool FromBuffer(const grpc::ByteBuffer& buffer, pb::Message* message) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return message->ParseFromString(bytes);
}

std::string Path(const pb::MethodDescriptor* method) {
  return absl::StrCat("/", method->service()->full_name(), "/", method->name());
}

// A unary call made as grpcurl makes it: a generic stub carrying messages
// of `method`'s (reflected) pool.
grpc::Status CallUnary(const std::shared_ptr<grpc::Channel>& channel,
                       const pb::MethodDescriptor* method,
                       const pb::Message& request, pb::Message* response) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::Status status;
  grpc::ByteBuffer response_buffer;
  {
    auto context = Context();
    auto call = stub.PrepareUnaryCall(context.get(), Path(method),
                                      ToBuffer(request), &cq);
    call->StartCall();
    call->Finish(&response_buffer, &status, nullptr);
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  if (status.ok() && !FromBuffer(response_buffer, response)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "unparsable response");
  }
  return status;
}

// A server-streaming call made as grpcurl makes it (a generic stream): the
// request is written at once, responses are read one at a time.
class GenericServerStream {
 public:
  GenericServerStream(const std::shared_ptr<grpc::Channel>& channel,
                      const pb::MethodDescriptor* method,
                      const pb::Message& request)
      : stub_(channel) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    call_ = stub_.PrepareCall(&context_, Path(method), &cq_);
    call_->StartCall(this);
    ok_ = Wait();
    if (ok_) call_->Write(ToBuffer(request), this);
    ok_ = ok_ && Wait();
    if (ok_) call_->WritesDone(this);
    ok_ = ok_ && Wait();
  }

  ~GenericServerStream() {
    context_.TryCancel();
    grpc::Status status;
    call_->Finish(&status, this);
    Wait();
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  // False when the stream ended (or the message did not parse).
  bool Read(pb::Message* message) {
    if (!ok_) return false;
    grpc::ByteBuffer buffer;
    call_->Read(&buffer, this);
    return Wait() && FromBuffer(buffer, message);
  }

 private:
  bool Wait() {
    void* tag;
    bool ok = false;
    return cq_.Next(&tag, &ok) && ok;
  }

  grpc::GenericStub stub_;
  grpc::CompletionQueue cq_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool ok_ = false;
};

std::string EnumName(const pb::Message& message, const std::string& field) {
  const pb::FieldDescriptor* f =
      message.GetDescriptor()->FindFieldByName(field);
  return f == nullptr ? "(no field " + field + ")"
                      : message.GetReflection()->GetEnum(message, f)->name();
}

const pb::ServiceDescriptor* JobQueueDescriptor() {
  return pb::DescriptorPool::generated_pool()->FindServiceByName(
      v1::JobQueue::service_full_name());
}

// --- buf curl ---

absl::StatusOr<std::string> FindBuf() {
  const char* node_path = std::getenv("NODE_PATH");
  if (node_path == nullptr || *node_path == '\0') {
    return absl::FailedPreconditionError(
        "NODE_PATH is not set; run with "
        "--test_env=NODE_PATH=<repo>/tools/npm/node_modules (tools/test does)");
  }
  for (const char* relative : {"/.bin/buf", "/@bufbuild/buf/bin/buf"}) {
    const std::string candidate = absl::StrCat(node_path, relative);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "buf is not installed under $NODE_PATH (", node_path,
      "): neither .bin/buf nor @bufbuild/buf/bin/buf; tools/setup installs "
      "tools/npm's packages"));
}

struct BufResult {
  int exit_code = -1;
  // stdout and stderr together.
  std::string output;
};

BufResult RunBuf(const std::vector<std::string>& args) {
  BufResult result;
  absl::StatusOr<std::string> buf = FindBuf();
  if (!buf.ok()) {
    result.output = std::string(buf.status().message());
    return result;
  }
  const std::string tmp = std::getenv("TEST_TMPDIR");
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(
      *buf, args, {{"HOME", tmp}, {"BUF_CACHE_DIR", tmp + "/buf-cache"}});
  if (!process.ok()) {
    result.output = process.status().ToString();
    return result;
  }
  absl::StatusOr<int> exit_code = (*process)->Wait(absl::Seconds(60));
  result.output = (*process)->output();
  result.exit_code = exit_code.ok() ? *exit_code : -1;
  if (result.exit_code == 127) {
    absl::StrAppend(&result.output, "\n(exit 127: is node on $PATH? ",
                    "tools/test passes --test_env=PATH)");
  }
  return result;
}

std::vector<std::string> BufCurl(const std::string& address,
                                 std::vector<std::string> args) {
  std::vector<std::string> all = {"curl", "--protocol", "grpc",
                                  "--http2-prior-knowledge"};
  all.insert(all.end(), args.begin(), args.end());
  if (!absl::StrContains(all.back(), "://")) {
    all.push_back(absl::StrCat("http://", address));
  }
  return all;
}

// Parses the JSON document buf curl printed into `message`.
template <typename Message>
absl::StatusOr<Message> ParseOutput(const BufResult& result) {
  const size_t start = result.output.find('{');
  Message message;
  if (start == std::string::npos ||
      !pb::util::JsonStringToMessage(result.output.substr(start), &message)
           .ok()) {
    return absl::InternalError(absl::StrCat(
        "not a ", Message::descriptor()->full_name(), ": ", result.output));
  }
  return message;
}

std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty()) lines.emplace(line);
  }
  return lines;
}

// --- The grpcurl lines of README.md and docs/ ---

// The words of each command of a ```sh block, as a shell splits them:
// comments dropped, backslash-newline joined, quoted words kept whole
// across lines.
absl::StatusOr<std::vector<std::vector<std::string>>> SplitShell(
    absl::string_view text) {
  std::vector<std::vector<std::string>> commands;
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  auto end_word = [&] {
    if (in_word) words.push_back(word);
    word.clear();
    in_word = false;
  };
  auto end_command = [&] {
    end_word();
    if (!words.empty()) commands.push_back(words);
    words.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\'' || c == '"') {
      const size_t end = text.find(c, i + 1);
      if (end == absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("unterminated quote in: ", text.substr(i, 80)));
      }
      absl::StrAppend(&word, text.substr(i + 1, end - i - 1));
      in_word = true;
      i = end;
    } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
    } else if (c == '#' && !in_word) {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == ' ' || c == '\t') {
      end_word();
    } else if (c == '\n') {
      end_command();
    } else {
      word += c;
      in_word = true;
    }
  }
  end_command();
  return commands;
}

// README.md, then every page of docs/ (//docs:pages), by name.
absl::StatusOr<std::vector<std::string>> DocFiles() {
  std::vector<std::string> pages;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(RunfilePath("docs"), error)) {
    if (entry.path().extension() == ".md") {
      pages.push_back("docs/" + entry.path().filename().string());
    }
  }
  if (error || pages.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no docs/*.md in the runfiles: ", error.message()));
  }
  std::sort(pages.begin(), pages.end());
  pages.insert(pages.begin(), "README.md");
  return pages;
}

// A grpcurl command of the docs, and the file it is in.
struct DocCommand {
  std::string file;
  std::vector<std::string> words;
};

// Every `grpcurl` command of `text` (the contents of `file`): those of its
// ```sh blocks, and the one after "try:" that tools/run prints.
absl::Status AppendGrpcurlCommands(const std::string& file,
                                   const std::string& text,
                                   std::vector<DocCommand>* commands) {
  std::string block;
  bool in_sh = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!in_sh && line == "```sh") {
      in_sh = true;
      block.clear();
    } else if (in_sh && line == "```") {
      in_sh = false;
      absl::StatusOr<std::vector<std::vector<std::string>>> split =
          SplitShell(block);
      if (!split.ok()) return split.status();
      for (auto& command : *split) {
        if (command[0] == "grpcurl") {
          commands->push_back({file, std::move(command)});
        }
      }
    } else if (in_sh) {
      absl::StrAppend(&block, line, "\n");
    } else if (size_t at = line.find("try: grpcurl "); at != line.npos) {
      absl::StatusOr<std::vector<std::vector<std::string>>> split =
          SplitShell(line.substr(at + 5));
      if (!split.ok()) return split.status();
      commands->push_back({file, (*split)[0]});
    }
  }
  return absl::OkStatus();
}

// Every `grpcurl` command of README.md and docs/*.md, in that order.
absl::StatusOr<std::vector<DocCommand>> DocGrpcurlCommands() {
  absl::StatusOr<std::vector<std::string>> files = DocFiles();
  if (!files.ok()) return files.status();
  std::vector<DocCommand> commands;
  for (const std::string& file : *files) {
    std::ifstream in(RunfilePath(file));
    if (!in) return absl::NotFoundError(file + " is not in the runfiles");
    std::stringstream text;
    text << in.rdbuf();
    absl::Status s = AppendGrpcurlCommands(file, text.str(), &commands);
    if (!s.ok()) return s;
  }
  return commands;
}

// The buf curl arguments that do what a docs grpcurl command does, run
// against `address` instead of tools/run's, with each placeholder of
// `values` (JOB-UUID, TOKEN, ...) replaced in the request body. An error
// names what grpcurl would not run as printed, or what has no equivalent.
absl::StatusOr<std::vector<std::string>> ToBufCurl(
    const std::vector<std::string>& grpcurl, const std::string& address,
    const std::vector<std::pair<std::string, std::string>>& values) {
  std::vector<std::string> args;
  bool plaintext = false;
  size_t i = 1;
  for (; i < grpcurl.size() && absl::StartsWith(grpcurl[i], "-"); ++i) {
    const std::string& flag = grpcurl[i];
    if (flag == "-plaintext") {
      plaintext = true;
    } else if ((flag == "-d" || flag == "-H") && i + 1 < grpcurl.size()) {
      std::string value = grpcurl[++i];
      if (flag == "-d") value = absl::StrReplaceAll(value, values);
      args.insert(args.end(), {flag, value});
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("a grpcurl flag this test does not know: ", flag));
    }
  }
  const std::vector<std::string> positional(grpcurl.begin() + i, grpcurl.end());
  if (!plaintext) {
    return absl::InvalidArgumentError(
        "tools/run serves plaintext; grpcurl needs -plaintext");
  }
  if (positional.size() != 2) {
    return absl::InvalidArgumentError(
        "want flags, then ADDRESS and a method or `list` (grpcurl reads no "
        "flag after the address)");
  }
  if (positional[0] != kReadmeAddress) {
    return absl::InvalidArgumentError(
        absl::StrCat("not tools/run's address: ", positional[0]));
  }
  if (positional[1] == "list") {
    args.push_back("--list-services");
    args.push_back(absl::StrCat("http://", address));
  } else if (absl::StrContains(positional[1], '/')) {
    args.push_back(absl::StrCat("http://", address, "/", positional[1]));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("not a method: ", positional[1]));
  }
  return BufCurl(address, args);
}

// --- The fixture: jobqueue_server processes over one test database ---

class ReflectionE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<TestDatabase>> db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db).release();
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }

  // Starts `jobqueue_server serve` as tools/run does (no token unless
  // `token`), returns its address.
  std::string StartServer(const std::string& token = "") {
    address_ = absl::StrCat("127.0.0.1:", UnusedTcpPort());
    absl::StatusOr<std::unique_ptr<ChildProcess>> server = ChildProcess::Start(
        RunfilePath("service/jobqueue_server"),
        {"serve", "--database_url=" + db_->url(), "--listen=" + address_,
         "--metrics_listen=", "--shutdown_grace=2s"},
        {{"JOBQUEUE_BEARER_TOKEN", token}, {"JOBQUEUE_AUTH_TOKEN", ""}});
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return address_;
    server_ = std::move(*server);
    EXPECT_TRUE(
        server_->WaitForOutput("serving on " + address_, absl::Seconds(20)))
        << server_->output();
    channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    return address_;
  }

  static TestDatabase* db_;
  std::string address_;
  std::unique_ptr<ChildProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TestDatabase* ReflectionE2eTest::db_ = nullptr;

TEST_F(ReflectionE2eTest, EveryListedServiceResolvesAndHealthIsCallable) {
  StartServer();
  absl::StatusOr<Schema> schema = FetchSchema(channel_);
  ASSERT_TRUE(schema.ok()) << schema.status();
  EXPECT_THAT(schema->services,
              IsSupersetOf({kHealth, kReflection, kJobQueue}));

  pb::DescriptorPool pool;
  ASSERT_TRUE(BuildPool(*schema, &pool).ok()) << BuildPool(*schema, &pool);
  for (const std::string& service : schema->services) {
    EXPECT_NE(pool.FindServiceByName(service), nullptr) << service;
  }
  ASSERT_NE(
      pool.FindMethodByName(absl::StrCat(kReflection, ".ServerReflectionInfo")),
      nullptr);

  // Check, from the reflected descriptor only.
  const pb::MethodDescriptor* check =
      pool.FindMethodByName(absl::StrCat(kHealth, ".Check"));
  ASSERT_NE(check, nullptr);
  pb::DynamicMessageFactory factory(&pool);
  std::unique_ptr<pb::Message> request(
      factory.GetPrototype(check->input_type())->New());
  ASSERT_TRUE(
      pb::util::JsonStringToMessage(R"({"service": ""})", request.get()).ok());
  std::unique_ptr<pb::Message> response(
      factory.GetPrototype(check->output_type())->New());
  grpc::Status status = CallUnary(channel_, check, *request, response.get());
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(EnumName(*response, "status"), "SERVING");

  // Watch: its first message is the current status.
  const pb::MethodDescriptor* watch =
      pool.FindMethodByName(absl::StrCat(kHealth, ".Watch"));
  ASSERT_NE(watch, nullptr);
  ASSERT_TRUE(watch->server_streaming());
  GenericServerStream stream(channel_, watch, *request);
  response->Clear();
  ASSERT_TRUE(stream.Read(response.get()));
  EXPECT_EQ(EnumName(*response, "status"), "SERVING");

  // The JobQueue too, from JSON as grpcurl sends it.
  const pb::MethodDescriptor* get_job =
      pool.FindMethodByName(absl::StrCat(kJobQueue, ".GetJob"));
  ASSERT_NE(get_job, nullptr);
  std::unique_ptr<pb::Message> get(
      factory.GetPrototype(get_job->input_type())->New());
  ASSERT_TRUE(
      pb::util::JsonStringToMessage(
          R"({"id": "7d3f2f0c-2b9e-4a55-9c1e-0123456789ab"})", get.get())
          .ok());
  std::unique_ptr<pb::Message> job(
      factory.GetPrototype(get_job->output_type())->New());
  EXPECT_EQ(CallUnary(channel_, get_job, *get, job.get()).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReflectionE2eTest, HealthTurnsNotServingOnSigterm) {
  StartServer();
  absl::StatusOr<Schema> schema = FetchSchema(channel_);
  ASSERT_TRUE(schema.ok()) << schema.status();
  pb::DescriptorPool pool;
  ASSERT_TRUE(BuildPool(*schema, &pool).ok());
  const pb::MethodDescriptor* watch =
      pool.FindMethodByName(absl::StrCat(kHealth, ".Watch"));
  ASSERT_NE(watch, nullptr);
  pb::DynamicMessageFactory factory(&pool);
  std::unique_ptr<pb::Message> request(
      factory.GetPrototype(watch->input_type())->New());
  std::unique_ptr<pb::Message> response(
      factory.GetPrototype(watch->output_type())->New());
  {
    GenericServerStream stream(channel_, watch, *request);
    ASSERT_TRUE(stream.Read(response.get()));
    EXPECT_EQ(EnumName(*response, "status"), "SERVING");
    ASSERT_TRUE(server_->Signal(SIGTERM).ok());
    response->Clear();
    ASSERT_TRUE(stream.Read(response.get())) << server_->output();
    EXPECT_EQ(EnumName(*response, "status"), "NOT_SERVING");
  }
  absl::StatusOr<int> exit_code = server_->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit_code.ok()) << server_->output();
  EXPECT_EQ(*exit_code, 0) << server_->output();
}

TEST_F(ReflectionE2eTest, BufCurlListsAndChecksHealthThroughReflection) {
  ASSERT_TRUE(FindBuf().ok()) << FindBuf().status();
  const std::string address = StartServer();

  BufResult services = RunBuf(BufCurl(address, {"--list-services"}));
  ASSERT_EQ(services.exit_code, 0) << services.output;
  EXPECT_THAT(Lines(services.output),
              IsSupersetOf({kHealth, kReflection, kJobQueue}));

  // Lists the methods of every service: each must resolve.
  BufResult methods = RunBuf(BufCurl(address, {"--list-methods"}));
  ASSERT_EQ(methods.exit_code, 0) << methods.output;
  const std::set<std::string> listed = Lines(methods.output);
  EXPECT_THAT(listed, IsSupersetOf({"grpc.health.v1.Health/Check",
                                    "grpc.health.v1.Health/Watch",
                                    "grpc.reflection.v1alpha.ServerReflection/"
                                    "ServerReflectionInfo"}));
  const pb::ServiceDescriptor* job_queue = JobQueueDescriptor();
  for (int i = 0; i < job_queue->method_count(); ++i) {
    EXPECT_THAT(listed, Contains(absl::StrCat(kJobQueue, "/",
                                              job_queue->method(i)->name())));
  }

  BufResult check = RunBuf(BufCurl(
      address, {absl::StrCat("http://", address, "/", kHealth, "/Check")}));
  ASSERT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr(R"("status": "SERVING")"));

  // Watch streams until cancelled; --timeout ends it after the first
  // message.
  BufResult watch = RunBuf(BufCurl(
      address, {"--timeout", "2s",
                absl::StrCat("http://", address, "/", kHealth, "/Watch")}));
  EXPECT_THAT(watch.output, HasSubstr(R"("status": "SERVING")"));
}

// A pending job at the head of a conversation of its own; leased (processing,
// with a lease_token) when `lease`.
v1::Job FreshJob(v1::JobQueue::Stub* stub, bool lease, int max_attempts = 0,
                 v1::ContentType type = v1::CONTENT_TYPE_TEXT) {
  static int count = 0;
  ++count;
  v1::EnqueueJobRequest enqueue;
  enqueue.set_user_phone(absl::StrCat("+1555000", 1000 + count));
  enqueue.set_source_channel_id(absl::StrCat("readme-", count));
  enqueue.set_source_type(v1::SOURCE_TYPE_DM);
  enqueue.set_content_type(type);
  enqueue.set_max_attempts(max_attempts);
  (*enqueue.mutable_payload()->mutable_fields())["Body"].set_string_value("x");
  v1::EnqueueJobResponse enqueued;
  grpc::Status s = stub->EnqueueJob(Context().get(), enqueue, &enqueued);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (!lease) return enqueued.job();
  v1::UpdateStatusRequest update;
  update.set_id(enqueued.job().id());
  update.set_status(v1::JOB_STATUS_PROCESSING);
  v1::Job job;
  s = stub->UpdateStatus(Context().get(), update, &job);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return job;
}

// A job of README's sender in `channel`, failed for good when `fail`, else
// pending: what the RetryJobs and CancelJobs lines of the docs act on.
// Unordered, so it is leased whatever else the conversation holds.
v1::Job SendersJob(v1::JobQueue::Stub* stub, const std::string& channel,
                   bool fail) {
  v1::EnqueueJobRequest enqueue;
  enqueue.set_user_phone("+15551234567");
  enqueue.set_source_channel_id(channel);
  enqueue.set_source_type(v1::SOURCE_TYPE_DM);
  enqueue.set_unordered(true);
  (*enqueue.mutable_payload()->mutable_fields())["Body"].set_string_value("x");
  v1::EnqueueJobResponse enqueued;
  grpc::Status s = stub->EnqueueJob(Context().get(), enqueue, &enqueued);
  EXPECT_TRUE(s.ok()) << s.error_message();
  if (!fail) return enqueued.job();
  v1::UpdateStatusRequest update;
  update.set_id(enqueued.job().id());
  update.set_status(v1::JOB_STATUS_PROCESSING);
  v1::Job leased;
  s = stub->UpdateStatus(Context().get(), update, &leased);
  EXPECT_TRUE(s.ok()) << s.error_message();
  v1::FailJobRequest fail_request;
  fail_request.set_job_id(leased.id());
  fail_request.set_lease_token(leased.lease_token());
  fail_request.set_error("for RetryJobs");
  v1::Job failed;
  s = stub->FailJob(Context().get(), fail_request, &failed);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(failed.status(), v1::JOB_STATUS_FAILED);
  return failed;
}

v1::JobStatus StatusOf(v1::JobQueue::Stub* stub, const std::string& id) {
  v1::GetJobRequest get;
  get.set_id(id);
  v1::Job job;
  grpc::Status s = stub->GetJob(Context().get(), get, &job);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return job.status();
}

TEST_F(ReflectionE2eTest, EveryGrpcurlLineOfTheDocsWorksThroughBufCurl) {
  ASSERT_TRUE(FindBuf().ok()) << FindBuf().status();
  absl::StatusOr<std::vector<DocCommand>> commands = DocGrpcurlCommands();
  ASSERT_TRUE(commands.ok()) << commands.status();
  const std::string address = StartServer();
  auto stub = v1::JobQueue::NewStub(channel_);

  std::set<std::string> covered;
  std::set<std::string> readme_targets;
  for (const DocCommand& doc_command : *commands) {
    const std::vector<std::string>& command = doc_command.words;
    const std::string printed = absl::StrJoin(command, " ");
    SCOPED_TRACE(absl::StrCat(doc_command.file, ": ", printed));
    if (doc_command.file == "README.md") readme_targets.insert(command.back());
    const std::string& target = command.back();
    absl::string_view method = target;
    if (!absl::ConsumePrefix(&method, absl::StrCat(kJobQueue, "/"))) {
      method = "";
    }
    covered.emplace(method);

    // Real ids and tokens for the placeholders, in the state the line needs.
    std::vector<std::pair<std::string, std::string>> values;
    std::string bulk_job;  // the job a RetryJobs or CancelJobs line acts on
    if (method == "GetJob" || method == "UpdateStatus" ||
        method == "CancelJob") {
      values = {{"JOB-UUID", FreshJob(stub.get(), false).id()}};
    } else if (method == "ExtendLease" || method == "CompleteJob" ||
               method == "FailJob" || method == "SnoozeJob" ||
               method == "StreamJobs") {
      v1::Job job = FreshJob(stub.get(), true);
      values = {{"JOB-UUID", job.id()}, {"TOKEN", job.lease_token()}};
    } else if (method == "CompleteJobs") {
      v1::Job first = FreshJob(stub.get(), true);
      v1::Job second = FreshJob(stub.get(), true);
      values = {{"JOB-UUID-2", second.id()},
                {"TOKEN-2", second.lease_token()},
                {"JOB-UUID", first.id()},
                {"TOKEN", first.lease_token()}};
    } else if (method == "RetryJob") {
      v1::Job job = FreshJob(stub.get(), true, /*max_attempts=*/1);
      v1::FailJobRequest fail;
      fail.set_job_id(job.id());
      fail.set_lease_token(job.lease_token());
      fail.set_error("for RetryJob");
      v1::Job failed;
      ASSERT_TRUE(stub->FailJob(Context().get(), fail, &failed).ok());
      ASSERT_EQ(failed.status(), v1::JOB_STATUS_FAILED);
      values = {{"JOB-UUID", job.id()}};
    } else if (method == "ClaimJobs") {
      // So the claim need not wait: audio, which every claim of the docs
      // takes (one claims only CONTENT_TYPE_AUDIO).
      FreshJob(stub.get(), false, 0, v1::CONTENT_TYPE_AUDIO);
    } else if (method == "GetUser" || method == "ListUsers") {
      // The user of README's quick start (CreateUser keeps a known name).
      v1::CreateUserRequest create;
      create.set_phone_number("+15551234567");
      v1::CreateUserResponse created;
      ASSERT_TRUE(stub->CreateUser(Context().get(), create, &created).ok());
    } else if (method == "ListDeadLetters" || method == "ReplayDeadLetters") {
      // A message the shim could not enqueue, stored as the shim stores it.
      static int count = 0;
      v1::RecordDeadLetterRequest letter;
      letter.set_source("twilio.messages");
      letter.set_delivery_id(absl::StrCat("SMDOC", ++count));
      letter.set_reason("EnqueueJob rejected the delivery: From is missing");
      auto& fields = *letter.mutable_raw_payload()->mutable_fields();
      fields["From"].set_string_value("+15551234567");
      fields["MessageSid"].set_string_value(letter.delivery_id());
      fields["Body"].set_string_value("hello");
      v1::DeadLetter stored;
      ASSERT_TRUE(
          stub->RecordDeadLetter(Context().get(), letter, &stored).ok());
      values = {{"DEAD-LETTER-UUID", stored.id()}};
    } else if (method == "RetryJobs") {
      bulk_job = SendersJob(stub.get(), "whatsapp:+15551234567", true).id();
    } else if (method == "CancelJobs") {
      bulk_job = SendersJob(stub.get(), "bulk-cancel", false).id();
    } else if (method == "DeleteSchedule") {
      // The schedule it names, whether or not the docs' CreateSchedule line
      // ran first (then this one is refused as another definition).
      v1::CreateScheduleRequest create;
      create.set_name("nightly-digest");
      create.set_cron("@daily");
      create.mutable_job()->set_user_phone("+15551234567");
      create.mutable_job()->set_source_channel_id("digest");
      create.mutable_job()->set_source_type(v1::SOURCE_TYPE_DM);
      v1::Schedule created;
      grpc::Status s = stub->CreateSchedule(Context().get(), create, &created);
      ASSERT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::ALREADY_EXISTS)
          << s.error_message();
    }

    absl::StatusOr<std::vector<std::string>> args =
        ToBufCurl(command, address, values);
    ASSERT_TRUE(args.ok()) << args.status();
    BufResult result = RunBuf(*args);
    ASSERT_EQ(result.exit_code, 0)
        << "buf " << absl::StrJoin(*args, " ") << "\n"
        << result.output;

    if (target == "list") {
      EXPECT_THAT(Lines(result.output),
                  IsSupersetOf({kHealth, kReflection, kJobQueue}));
    } else if (target == absl::StrCat(kHealth, "/Check")) {
      EXPECT_THAT(result.output, HasSubstr(R"("status": "SERVING")"));
    } else if (method == "CreateUser") {
      auto r = ParseOutput<v1::CreateUserResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->user().first_name(), "Ada");
    } else if (method == "EnqueueJob") {
      auto first = ParseOutput<v1::EnqueueJobResponse>(result);
      ASSERT_TRUE(first.ok()) << first.status();
      EXPECT_TRUE(first->created());
      // A line with a delay enqueues a scheduled job.
      EXPECT_EQ(first->job().status(), absl::StrContains(printed, R"("delay")")
                                           ? v1::JOB_STATUS_SCHEDULED
                                           : v1::JOB_STATUS_PENDING);
      // "The same idempotency_key again returns the first job, without
      // "created": true."
      BufResult again = RunBuf(*args);
      ASSERT_EQ(again.exit_code, 0) << again.output;
      auto second = ParseOutput<v1::EnqueueJobResponse>(again);
      ASSERT_TRUE(second.ok()) << second.status();
      EXPECT_FALSE(second->created());
      EXPECT_EQ(second->job().id(), first->job().id());
      // ... printed only with -emit-defaults, as the README says.
      EXPECT_THAT(again.output, Not(HasSubstr(R"("created")")));
      std::vector<std::string> emit = *args;
      emit.insert(emit.end() - 1, "--emit-defaults");
      BufResult with_defaults = RunBuf(emit);
      ASSERT_EQ(with_defaults.exit_code, 0) << with_defaults.output;
      EXPECT_THAT(with_defaults.output, HasSubstr(R"("created": false)"));
    } else if (method == "EnqueueJobs") {
      auto r = ParseOutput<v1::EnqueueJobsResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->results_size(), 2);
      for (const v1::EnqueueJobResult& one : r->results()) {
        EXPECT_EQ(one.code(), 0) << one.message();
        EXPECT_TRUE(one.created());
      }
      EXPECT_EQ(
          r->results(0).job().payload().fields().at("Body").string_value(),
          "first");
    } else if (method == "GetJob") {
      auto r = ParseOutput<v1::Job>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->id(), values[0].second);
    } else if (method == "UpdateStatus" || method == "ExtendLease") {
      auto r = ParseOutput<v1::Job>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->status(), v1::JOB_STATUS_PROCESSING);
      EXPECT_TRUE(r->has_lease_expires_at());
      // Only the call that leases the job sees its token.
      EXPECT_EQ(r->lease_token().empty(), method == "ExtendLease");
    } else if (method == "ListJobs") {
      EXPECT_TRUE(ParseOutput<v1::ListJobsResponse>(result).ok());
    } else if (method == "RecordDeadLetter") {
      auto r = ParseOutput<v1::DeadLetter>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->delivery_id(), "SM0002");
    } else if (method == "ClaimJobs") {
      auto r = ParseOutput<v1::ClaimJobsResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_GE(r->jobs_size(), 1);
    } else if (method == "CompleteJob") {
      auto r = ParseOutput<v1::Job>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->status(), v1::JOB_STATUS_COMPLETE);
      if (absl::StrContains(printed, R"("result")")) {
        EXPECT_EQ(r->result().fields().at("reply").string_value(), "sent");
      }
    } else if (method == "CancelJob") {
      auto r = ParseOutput<v1::Job>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->id(), values[0].second);
      EXPECT_EQ(r->status(), v1::JOB_STATUS_CANCELLED);
    } else if (method == "CompleteJobs") {
      auto r = ParseOutput<v1::CompleteJobsResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->results_size(), 2);
      EXPECT_EQ(r->results(0).code(), 0) << r->results(0).message();
      EXPECT_EQ(r->results(1).code(), 0) << r->results(1).message();
    } else if (method == "FailJob" || method == "RetryJob" ||
               method == "SnoozeJob") {
      auto r = ParseOutput<v1::Job>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->status(), v1::JOB_STATUS_PENDING);
    } else if (method == "GetUser") {
      auto r = ParseOutput<v1::User>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->phone_number(), "+15551234567");
    } else if (method == "ListUsers") {
      auto r = ParseOutput<v1::ListUsersResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_GE(r->users_size(), 1);
    } else if (method == "CreateSchedule") {
      auto r = ParseOutput<v1::Schedule>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_FALSE(r->name().empty());
      EXPECT_TRUE(r->has_next_run_at());
      EXPECT_TRUE(r->has_job());
    } else if (method == "ListSchedules") {
      auto r = ParseOutput<v1::ListSchedulesResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_GE(r->schedules_size(), 1);
    } else if (method == "DeleteSchedule") {
      auto r = ParseOutput<v1::DeleteScheduleResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
    } else if (method == "SetQueueRateLimit") {
      auto r = ParseOutput<v1::Queue>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->name(), "sms-out");
      EXPECT_EQ(r->rate_limit().jobs_per_second(), 50);
      EXPECT_EQ(r->rate_limit().burst(), 5);
    } else if (method == "GetQueue") {
      // After the SetQueueRateLimit line above it.
      auto r = ParseOutput<v1::Queue>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->name(), "sms-out");
      EXPECT_EQ(r->rate_limit().burst(), 5);
    } else if (method == "SetQueueMaxRunTime") {
      auto r = ParseOutput<v1::Queue>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->name(), "transcribe");
      EXPECT_EQ(r->max_run_time().seconds(), 300);
    } else if (method == "PauseQueue" || method == "ResumeQueue") {
      // The ResumeQueue line follows the PauseQueue line.
      const bool paused = method == "PauseQueue";
      auto r = ParseOutput<v1::Queue>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->name(), "sms-out");
      EXPECT_EQ(r->has_paused_at(), paused);
      EXPECT_EQ(r->pause_reason(), paused ? "provider returns 503" : "");
    } else if (method == "ListDeadLetters") {
      auto r = ParseOutput<v1::ListDeadLettersResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_GE(r->dead_letters_size(), 1);
      EXPECT_EQ(r->dead_letters(0).source(), "twilio.messages");
    } else if (method == "ReplayDeadLetters") {
      auto r = ParseOutput<v1::ReplayDeadLettersResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(r->results_size(), 1);
      EXPECT_EQ(r->results(0).code(), 0) << r->results(0).message();
      EXPECT_TRUE(r->results(0).replayed_now());
      EXPECT_FALSE(r->results(0).replay().job_id().empty());
    } else if (method == "GetQueueStats") {
      // After the lines above: "sms-out" has settings, and was resumed.
      auto r = ParseOutput<v1::GetQueueStatsResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      bool sms_out = false;
      for (const v1::QueueStats& q : r->queues()) {
        EXPECT_EQ(q.minutes_size(), 15) << q.queue();
        if (q.queue() != "sms-out") continue;
        sms_out = true;
        EXPECT_FALSE(q.paused());
        EXPECT_EQ(q.rate_limit().burst(), 5);
      }
      EXPECT_TRUE(sms_out);
    } else if (method == "ListConversations") {
      auto r = ParseOutput<v1::ListConversationsResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_LE(r->conversations_size(), 20);
      for (const v1::Conversation& c : r->conversations()) {
        EXPECT_EQ(c.queue(), "default");
        EXPECT_EQ(c.head().source_channel_id(), c.source_channel_id());
        EXPECT_NE(c.head_wait(), v1::HEAD_WAIT_UNSPECIFIED);
      }
    } else if (method == "RetryJobs") {
      // The dry run changes nothing; the other line retries.
      const bool dry = absl::StrContains(printed, "dry_run");
      auto r = ParseOutput<v1::RetryJobsResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_GE(r->retried(), 1);
      EXPECT_EQ(StatusOf(stub.get(), bulk_job),
                dry ? v1::JOB_STATUS_FAILED : v1::JOB_STATUS_PENDING);
    } else if (method == "CancelJobs") {
      auto r = ParseOutput<v1::CancelJobsResponse>(result);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_GE(r->cancelled(), 1);
      EXPECT_EQ(StatusOf(stub.get(), bulk_job), v1::JOB_STATUS_CANCELLED);
    } else if (method == "StreamJobs") {
      // The ack of the one item (code 0, left out of JSON), maybe after
      // pushed jobs (handed back when the stream ended).
      EXPECT_THAT(result.output, HasSubstr("STREAM_JOBS_ITEM_KIND_COMPLETE"));
      EXPECT_THAT(result.output, HasSubstr(values[0].second));
      EXPECT_THAT(result.output, Not(HasSubstr(R"("code")")));
      EXPECT_EQ(StatusOf(stub.get(), values[0].second),
                v1::JOB_STATUS_COMPLETE);
    } else {
      ADD_FAILURE() << "a grpcurl line of the docs this test has no check for";
    }
  }
  // README's quick start has tools/run's `list` line and a health check; with
  // docs/ it shows every JobQueue method.
  EXPECT_THAT(readme_targets, IsSupersetOf(std::vector<std::string>{
                                  "list", absl::StrCat(kHealth, "/Check")}));
  const pb::ServiceDescriptor* job_queue = JobQueueDescriptor();
  for (int i = 0; i < job_queue->method_count(); ++i) {
    EXPECT_THAT(covered, Contains(job_queue->method(i)->name()));
  }
  EXPECT_GE(commands->size(),
            static_cast<size_t>(job_queue->method_count()) + 2);
}

TEST_F(ReflectionE2eTest, ReadmeBearerHeaderWorksWithBufCurl) {
  ASSERT_TRUE(FindBuf().ok()) << FindBuf().status();
  std::ifstream in(RunfilePath("README.md"));
  std::stringstream readme;
  readme << in.rdbuf();
  // README: "With a token configured, add -H '...' (health checks need
  // none)."
  constexpr char kHeader[] = "authorization: Bearer TOKEN";
  ASSERT_THAT(readme.str(), HasSubstr(absl::StrCat("-H '", kHeader, "'")));
  const std::string address = StartServer("readme-t0ken");
  const std::string create_user =
      absl::StrCat("http://", address, "/", kJobQueue, "/CreateUser");
  const std::string body =
      R"({"phone_number": "+15551234567", "first_name": "Ada"})";

  BufResult without = RunBuf(BufCurl(address, {"-d", body, create_user}));
  EXPECT_NE(without.exit_code, 0);
  EXPECT_THAT(without.output, HasSubstr("unauthenticated"));

  BufResult with = RunBuf(BufCurl(
      address, {"-H", absl::StrReplaceAll(kHeader, {{"TOKEN", "readme-t0ken"}}),
                "-d", body, create_user}));
  EXPECT_EQ(with.exit_code, 0) << with.output;

  // Reflection and health need no token.
  BufResult methods = RunBuf(BufCurl(address, {"--list-methods"}));
  EXPECT_EQ(methods.exit_code, 0) << methods.output;
  BufResult check = RunBuf(BufCurl(
      address, {absl::StrCat("http://", address, "/", kHealth, "/Check")}));
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr(R"("status": "SERVING")"));
}

}  // namespace
}  // namespace jobqueue
