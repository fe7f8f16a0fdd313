"""The /schema reference page renders with no internet: its assets come from imagegate."""

from playwright.sync_api import expect

from tests.e2e.test_playground import browser  # noqa: F401 (the fixture)


def test_the_schema_page_renders_offline(start_gateway, browser):  # noqa: F811
    gateway = start_gateway(workers=0)
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_the_gateway(route):
        if route.request.url.startswith(gateway.url):
            return route.continue_()
        elsewhere.append(route.request.url)
        return route.abort()

    context.route("**/*", only_the_gateway)
    page = context.new_page()
    try:
        page.goto(f"{gateway.url}/schema")
        expect(
            page.locator(".opblock-summary-path", has_text="/v1/chat/completions")
        ).to_be_visible(timeout=15000)
        assert elsewhere == []
        assert page.request.get(f"{gateway.url}/schema/openapi.json").json()["openapi"]
    finally:
        context.close()
