"""Why the page writes its own address bar instead of binding widgets to it (``bind="query-params"``).

The page's link is written once per run from the schema (optlab.app_state.sync_url): in the schema's
order, defaults left out, and holding the last *valid* view (a rejected formula, domain or start stays out
of the link while its widget keeps the user's text). Binding a widget hands its URL parameter to Streamlit,
and in Streamlit 1.67 that cannot be combined with such a writer. These tests pin what was measured, so
that a Streamlit release that changes it fails here and the choice can be made again:

- writing a bound parameter through ``st.query_params`` raises, so one writer cannot own the link;
- a bound widget a run does not draw loses its parameter (measured in headless Chromium: hiding a bound
  number input removed it from the address bar), so a link could not keep settings of views not on screen;
- a user's change of a bound widget is written to the address bar by the browser, not by the script, so
  AppTest cannot see it (the link's tests could no longer run without a browser).
A preset or reset, set through session state in a callback, is written by the browser too (measured).
"""

from streamlit.testing.v1 import AppTest


def _bound_app():
    import streamlit as st

    st.number_input("a", key="a", value=0.1, bind="query-params")
    try:
        st.query_params.from_dict({"a": "0.7", "z": "1"})
        st.write("written")
    except st.errors.StreamlitAPIException as e:
        st.write(f"refused: {e}")


def test_a_bound_parameter_cannot_be_written_by_the_script():
    at = AppTest.from_function(_bound_app).run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "refused" in shown and "bound to a widget" in shown, shown


def test_a_users_change_to_a_bound_widget_does_not_reach_the_scripts_query_params():
    def app():
        import streamlit as st

        st.number_input("a", key="a", value=0.1, bind="query-params")

    at = AppTest.from_function(app).run()
    at.number_input(key="a").set_value(0.3).run()
    assert at.number_input(key="a").value == 0.3
    assert at.query_params.get("a") in (None, [], "0.1", ["0.1"]), dict(at.query_params)
