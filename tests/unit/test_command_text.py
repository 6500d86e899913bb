import pytest

from bot.command_text import MAX_LINKS, CommandError, Detect, Help, LookUpJob, parse


def detect(text: str) -> Detect:
    parsed = parse(text)
    assert isinstance(parsed, Detect)
    return parsed


def test_empty_text_means_the_latest_image_and_default_classes():
    assert parse("") == Detect(urls=(), classes=())


@pytest.mark.parametrize("text", ["help", "HELP", "--help"])
def test_help(text):
    assert parse(text) == Help()


def test_job_lookup():
    assert parse("job 3f2a-77") == LookUpJob("3f2a-77")


@pytest.mark.parametrize("text", ["job", "job a b", "job <bad>"])
def test_job_needs_one_id(text):
    with pytest.raises(CommandError, match="job id"):
        parse(text)


def test_links_in_every_form_slack_sends_them():
    parsed = parse(
        "https://a.example/1.jpg <https://b.example/2.png> <https://c.example/3.gif|photo> person car"
    )
    assert parsed == Detect(
        urls=("https://a.example/1.jpg", "https://b.example/2.png", "https://c.example/3.gif"),
        classes=("person", "car"),
    )


def test_all_asks_for_every_class():
    assert detect("https://e.example/a.jpg ALL").classes == ("all",)


def test_commas_separate_classes_with_spaces_in_them():
    assert detect("Coffee Cup, person").classes == ("coffee cup", "person")
    assert detect("coffee_cup dog dog").classes == ("coffee cup", "dog")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ftp://example.com/a.jpg", "not an http"),
        ("<file:///etc/passwd>", "not an http"),
        ("--all person", "option"),
        ("-v", "option"),
        ("<@U123> person", "mention"),
        ("https://example.com/" + "a" * 600, "512"),
        (" ".join(f"https://e.example/{n}.jpg" for n in range(11)), "That is 11 links; .* 10 "),
        ("all cat", "`all` already means every class"),
    ],
)
def test_bad_input_is_named(text, problem):
    with pytest.raises(CommandError, match=problem):
        parse(text)


def test_ten_links_are_fine():
    text = " ".join(f"https://e.example/{n}.jpg" for n in range(MAX_LINKS))
    assert len(detect(text).urls) == MAX_LINKS == 10
