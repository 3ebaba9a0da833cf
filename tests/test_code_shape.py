"""The code keeps its shape (bench/code_shape.py): complexity <= 10, functions short, none over 40 lines."""

from bench import code_shape


def test_there_are_no_known_exceptions_left():
    assert code_shape.KNOWN == {}


def test_no_function_is_over_the_limits_and_the_lengths_stay_short():
    sizes, branches = code_shape.measure()
    assert len(sizes) > 500 and len(branches) > 500  # every source file was read
    assert code_shape.problems(sizes, branches) == []


def test_the_check_names_a_function_over_the_limits():
    sizes = {"a.py::f": 41, "a.py::g": 3}
    found = code_shape.problems(sizes, {"a.py::f": 11, "a.py::g": 1})
    assert found == ["a.py::f: complexity 11 > 10", "a.py::f: 41 lines > 40", "median function length 22.0 > 8",
                     "p90 function length 41 > 25"]
