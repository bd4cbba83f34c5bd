"""The core layer: schema, engine, migrations, shared media decode, geo maths, gazetteers and vocabularies."""  # noqa: E501
