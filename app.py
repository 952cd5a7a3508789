"""Training Playground: entry point (`streamlit run app.py`). The app itself is ui/app.py's main().

multiprocessing's spawn (the UMAP projector's process, playground/projection.py) runs the main script
again in its child, as __mp_main__: there it must start nothing (no app, no torch, no warm workers).
"""
if __name__ != "__mp_main__":
    from ui.app import main

    main()
