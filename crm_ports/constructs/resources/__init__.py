"""Hand-written, typed Terraform provider/resource classes on plain cdktf.

They replace the prebuilt cdktf provider packages, whose jsii assemblies take
tens of seconds and over a gigabyte of memory to load.
"""
