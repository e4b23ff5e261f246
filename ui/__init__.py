"""The chat page: a Gradio app over ``rag.Chatbot`` (`rag chat`).

``ui.app`` imports gradio; import it only when serving, so `rag --help` stays fast::

    from ui.app import build_app, launch_app
    launch_app(build_app(rag.Chatbot.from_corpus("corpus")))
"""
