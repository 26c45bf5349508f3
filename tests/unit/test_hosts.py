from holdall.hosts import BEGIN, END, host_lines, with_block


def test_the_block_is_added_once_and_replaced_in_place() -> None:
    original = "127.0.0.1\tlocalhost\n::1\tip6-localhost\n"
    first = with_block(original, host_lines(["b", "a", "a"], "localhost", "127.0.0.1"))
    lines = "127.0.0.1\ta.localhost a.127.0.0.1\n127.0.0.1\tb.localhost b.127.0.0.1\n"
    assert first == f"{original}\n{BEGIN}\n{lines}{END}\n"
    again = with_block(first + "10.0.0.1\tother\n", host_lines(["c"], "example.test", "10.1.1.1"))
    assert again.count(BEGIN) == 1 and "a.localhost" not in again
    assert "127.0.0.1\tlocalhost\n" in again and "10.0.0.1\tother\n" in again
    assert again.endswith(f"{BEGIN}\n10.1.1.1\tc.example.test c.10.1.1.1\n{END}\n")


def test_an_empty_file_gets_just_the_block() -> None:
    assert with_block("", []) == f"{BEGIN}\n{END}\n"
