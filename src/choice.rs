//! Named choices (`--mode exact`, `"mode": "exact"` in a manifest, `mode="exact"` in
//! Python), each defined once by `choices!`: the enum, its names, its docs.
//!
//! One definition serves every front end: `FromStr` and serde use the names, the error
//! lists them, and with the `cli` feature clap's `ValueEnum` shows each name with its doc
//! comment as help (exactly as `#[derive(ValueEnum)]` would). The library needs no clap.

/// A value that is none of a choice's names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid value '{value}' [possible values: {}]", names.join(", "))]
pub struct UnknownChoice {
    pub value: String,
    pub names: &'static [&'static str],
}

/// A variant's doc comment as clap shows a possible value's help: the lines trimmed and
/// joined by spaces, without a final period.
pub(crate) fn help_of(doc: &[&str]) -> String {
    let text = doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    text.strip_suffix('.').map(str::to_string).unwrap_or(text)
}

/// `choices! { /// docs  pub enum Name { /// docs  Variant = "name", ... } }`.
macro_rules! choices {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[doc = $doc])* $variant, )+
        }

        impl $name {
            /// Every choice, in the order of the definition.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Their names, in the same order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The name users type and files record.
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant's doc comment, as help text.
            #[allow(dead_code)]
            pub fn help(self) -> String {
                match self {
                    $($name::$variant => $crate::choice::help_of(&[$($doc),*]),)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::choice::UnknownChoice;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|c| c.name() == s)
                    .ok_or_else(|| $crate::choice::UnknownChoice {
                        value: s.to_string(),
                        names: Self::NAMES,
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "cli")]
        impl clap::ValueEnum for $name {
            fn value_variants<'a>() -> &'a [Self] {
                Self::ALL
            }

            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                let value = clap::builder::PossibleValue::new(self.name());
                let help = self.help();
                Some(if help.is_empty() { value } else { value.help(help) })
            }
        }
    };
}

pub(crate) use choices;

#[cfg(test)]
mod tests {
    choices! {
        /// A test choice.
        enum Fruit {
            /// A red one.
            Apple = "apple",
            /// A long one,
            /// over two lines.
            Banana = "banana",
            Cherry = "cherry",
        }
    }

    #[test]
    fn names_parse_print_serialise_and_list() {
        assert_eq!(Fruit::ALL.len(), 3);
        assert_eq!(Fruit::NAMES, &["apple", "banana", "cherry"]);
        assert_eq!("banana".parse::<Fruit>(), Ok(Fruit::Banana));
        let e = "kiwi".parse::<Fruit>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'kiwi' [possible values: apple, banana, cherry]"
        );
        assert_eq!(Fruit::Cherry.to_string(), "cherry");
        assert_eq!(serde_json::to_string(&Fruit::Apple).unwrap(), "\"apple\"");
        let back: Fruit = serde_json::from_str("\"cherry\"").unwrap();
        assert_eq!(back, Fruit::Cherry);
        assert!(serde_json::from_str::<Fruit>("\"Apple\"").is_err());
        assert_eq!(Fruit::Banana.help(), "A long one, over two lines");
        assert_eq!(Fruit::Cherry.help(), "");
    }
}
