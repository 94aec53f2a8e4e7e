"""Reading and writing `tensorflow_metadata` Schema protos as text (`schema.pbtxt`)."""
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from kubetfx.components.common import fs


def read(path: str) -> schema_pb2.Schema:
    return text_format.Parse(fs.read_text(path), schema_pb2.Schema())


def write(schema: schema_pb2.Schema, path: str) -> None:
    fs.write_text(path, text_format.MessageToString(schema))
