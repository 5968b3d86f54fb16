"""Plan review: compare two states (`diff`), police a rule set or a synthesized folder
(`check`) and draw the topology (`diagram`). Pure Python: nothing here imports cdktf or
jsii, so reviewing a pull request never starts Node."""
