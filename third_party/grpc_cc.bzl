"""Generates C++ protobuf and gRPC code with Debian's protoc and plugin."""

def cc_grpc_proto_library(name, src, deps = [], visibility = None):
    """A cc_library with the messages and stubs generated from one .proto file.

    Args:
      name: the cc_library's name.
      src: the .proto file, under this package; its import path is relative
        to the package, so include "<path without .proto>.grpc.pb.h".
      deps: further cc_library dependencies.
      visibility: of the cc_library.
    """
    base = src[:-len(".proto")]
    outs = [base + ext for ext in [".pb.h", ".pb.cc", ".grpc.pb.h", ".grpc.pb.cc"]]
    pkg = native.package_name()
    native.genrule(
        name = name + "_gen",
        srcs = [src],
        outs = outs,
        cmd = " ".join([
            "protoc",
            "-I" + pkg,
            "-I/usr/include",
            "--cpp_out=$(GENDIR)/" + pkg,
            "--grpc_out=$(GENDIR)/" + pkg,
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
            "$(location " + src + ")",
        ]),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + [
            "//third_party:grpc++",
            "//third_party:protobuf",
        ],
        visibility = visibility,
    )
