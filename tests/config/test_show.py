"""show.yaml: schema errors name the key and line and exit 2 before anything opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from installation.cli import main
from installation.config.show import ShowError, load_show, parse_show
from tests.conftest import REPO


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "show.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_show_is_valid() -> None:
    show = load_show(REPO / "show.yaml")
    assert show.resolve(show.model.path).is_dir()
    assert show.display.fullscreen is True


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    show = load_show(write(tmp_path, "# nothing but a comment\n"))
    assert show.display.fps == 60
    assert show.base_dir == tmp_path


def test_misspelled_key_names_key_line_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "display:\n  size: [640, 480]\n  fulscreen: true\n")
    with pytest.raises(ShowError) as err:
        load_show(path)
    text = str(err.value)
    assert f"{path}:3" in text
    assert "display.fulscreen" in text
    assert "did you mean 'fullscreen'" in text


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ShowError, match=r":1: displya: unknown key \(did you mean 'display'\?\)"):
        load_show(write(tmp_path, "displya:\n  fps: 30\n"))


def test_wrong_type_and_out_of_range(tmp_path: Path) -> None:
    path = write(tmp_path, "display:\n  fps: fast\nnavigator:\n  truncation: 7\n")
    with pytest.raises(ShowError) as err:
        load_show(path)
    text = str(err.value)
    assert ":2: display.fps:" in text and "'fast'" in text
    assert ":4: navigator.truncation:" in text and "less than or equal to 2" in text


def test_bad_size_element_points_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ShowError, match=r":3: display\.size"):
        load_show(write(tmp_path, "display:\n  size:\n    - -5\n    - 10\n"))


def test_unknown_parameter(tmp_path: Path) -> None:
    with pytest.raises(
        ShowError, match=r"unknown parameter 'walk.sped' \(did you mean 'walk.speed'\?\)"
    ):
        load_show(write(tmp_path, "parameters:\n  walk.sped: {smoothing: 1}\n"))


def test_parameter_default_out_of_range() -> None:
    with pytest.raises(ShowError, match="outside 0.0..1.0"):
        parse_show({"parameters": {"output.brightness": {"default": 3}}})


def test_yaml_syntax_error_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(ShowError, match="not valid YAML"):
        load_show(write(tmp_path, "display: [unclosed\n"))
    with pytest.raises(ShowError, match="top level must be a mapping"):
        load_show(write(tmp_path, "- a\n- b\n"))


def test_missing_file_says_where_a_show_to_start_from_is() -> None:
    with pytest.raises(ShowError, match="no such show file") as info:
        load_show("/nonexistent/missing.yaml")
    # It names a file that exists in the repository (show.yaml), not a README section.
    assert "copy show.yaml" in str(info.value) and (REPO / "show.yaml").is_file()


@pytest.mark.parametrize("command", ["run", "check"])
def test_cli_bad_show_exits_2_without_traceback(tmp_path: Path, command: str, capsys) -> None:
    path = write(tmp_path, "display:\n  fullscren: true\n")
    assert main([command, str(path), *(["--headless"] if command == "run" else [])]) == 2
    err = capsys.readouterr().err
    assert "display.fullscren: unknown key" in err
    assert "Traceback" not in err


def test_cli_missing_model_exits_2(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "model:\n  path: models/nope\n")
    assert main(["run", str(path), "--headless", "--frames", "2"]) == 2
    err = capsys.readouterr().err
    assert "models/nope does not exist" in err


def test_cli_check_prints_resolved_show(show_file: Path, capsys) -> None:
    assert main(["check", str(show_file)]) == 0
    out = capsys.readouterr().out
    assert '"resolved_path"' in out and '"architecture": "dcgan"' in out
