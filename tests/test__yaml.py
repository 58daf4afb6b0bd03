"""read_yaml_file: a user's YAML file, or a ConfigError naming the file and the problem."""

import pytest

from cdanalytics._yaml import read_yaml_file
from cdanalytics.errors import ConfigError


def test_a_yaml_file_is_parsed(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("language: nl\ngroupings: [site]\n", encoding="utf-8")
    assert read_yaml_file(path, "Evaluation config") == {"language": "nl", "groupings": ["site"]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"Mapping file .*file\.yaml cannot be read: it does not exist\."),
        (b"\xff\xfe not utf-8", r"Mapping file .*file\.yaml cannot be read: it is not UTF-8"),
        (b"tables: [unclosed", r"Mapping file .*file\.yaml is not valid YAML"),
    ],
)
def test_problems_name_the_file(tmp_path, content, message):
    path = tmp_path / "file.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        read_yaml_file(path, "Mapping file")


def test_a_folder_cannot_be_read(tmp_path):
    with pytest.raises(ConfigError, match=r"Evaluation config .* cannot be read: "):
        read_yaml_file(tmp_path, "Evaluation config")
