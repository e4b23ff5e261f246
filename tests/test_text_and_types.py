from rag import text as T
from rag.answer.qtypes import QuestionType, answer_items, classify
from rag.retrieve.followup import normalise_history, resolve_followup


def test_classify_reads_the_asked_type():
    assert classify("Who led the Hamas delegation?").kind == "person"
    assert classify("How many rockets did Hamas fire?") == QuestionType("quantity", "rocket")
    assert classify("How much did Iran pay the families?").kind == "amount"
    assert classify("How much money did Khamenei promise?").kind == "amount"
    assert classify("When did the drone come down?").kind == "date"
    assert classify("In what year did the war start?").kind == "date"
    assert classify("Where did the diplomats meet?").kind == "place"
    assert classify("Which newspaper reported the talks?").kind == "entity"
    assert classify("Who is Mahmoud al-Zahar?").kind == "open"
    assert classify("Why did Syria cut ties?").kind == "reason"
    assert classify("What did Khamenei say about missiles?").kind == "open"


def test_classify_takes_who_after_a_noun_as_a_relative_pronoun():
    # A relative "who" describes a noun; the question word is elsewhere.
    assert classify("The officials who visited Tehran met where?").kind == "place"
    assert classify("What country has a group who call themselves Huguenots?").kind == "place"
    assert classify("What did the Huguenots who settled in Cork contribute?").kind == "open"
    # ... while "who" opening the question or a clause, or after a preposition, still asks for a person,
    assert classify("Which wing fought in Syria, and who was its commander?").kind == "person"
    assert classify("To whom did Haniyeh write?").kind == "person"
    # ... and so does a question for people named by a plural noun.
    assert classify("Name the two advisers who met Arouri.").kind == "person"


def test_answer_items_find_names_dates_and_figures_not_in_the_question():
    q = "Who led the delegation that met Khamenei?"
    s = "The delegation is headed by Saleh Al-Arouri, deputy chairman of Hamas' political wing."
    assert answer_items(s, classify(q), q) == ["Saleh Al-Arouri"]
    assert answer_items("Khamenei met Ayatollah Ali Khamenei.", classify(q), q) == []
    q = "How many rockets were fired?"
    assert answer_items("They fired 12 rockets on Monday.", classify(q), q) == ["12"]
    assert answer_items("They fired more than 40 Grad rockets.", classify(q), q) == ["40"]
    # A figure that counts something else does not answer "how many rockets".
    assert answer_items("They fired rockets at 9,000 homes.", classify(q), q) == []
    assert answer_items("It gave 9,000 families aid.", classify(q), q) == []
    q = "When was the drone shot down?"
    assert answer_items("It shot down a US drone June 20 over the Gulf.", classify(q), q) == ["June 20"]
    q = "On what day of the week did they meet?"
    assert answer_items("They met in July, on Monday.", classify(q), q) == ["on Monday"]
    q = "In what year did the war start?"
    assert answer_items("The war that began in 2011 ended in May.", classify(q), q) == ["2011"]
    q = "How long did the meeting last?"
    assert answer_items("It lasted three hours on Monday.", classify(q), q) == ["three hours"]


def test_a_name_must_stand_by_the_noun_it_names():
    q = "What was the name of the US drone shot down on June 20?"
    assert classify(q) == QuestionType("entity", focus="drone")
    assert answer_items("Iran shot down a US drone June 20 over the Persian Gulf.", classify(q), q) == []
    assert answer_items("It downed the drone Global Hawk on June 20.", classify(q), q) == ["Global Hawk"]


def test_when_inside_a_clause_does_not_make_a_date_question():
    assert classify("How did Khamenei respond when Arouri called Hamas his defense?").kind == "open"
    assert classify("When did they meet?").kind == "date"


def test_numbers_are_not_years_and_amounts_keep_currency():
    assert T.numbers("In 2019 they paid 651,000 to 20 families") == ["651,000", "20"]
    assert T.amounts("It paid $651,000 and $70 million in aid.") == ["$651,000", "$70 million"]


def test_entities_drop_leading_function_words_and_sentence_starts():
    assert T.entities("A Hamas delegation met Ali Khamenei.") == ["Hamas", "Ali Khamenei"]
    assert T.entities("Besides Hamas, who joined?", skip_first_word=True) == ["Hamas"]


def test_follow_up_pronoun_resolves_to_the_person_in_the_last_answer():
    history = [{"role": "user", "content": "Who led the Hamas delegation that met Khamenei?"},
               {"role": "assistant", "content": "The delegation is headed by Saleh Al-Arouri, deputy chairman. [1]"}]
    assert resolve_followup("What did he promise Khamenei?", history) == "What did Saleh Al-Arouri promise Khamenei?"
    assert resolve_followup("What was his title?", history) == "What was Saleh Al-Arouri's title?"


def test_follow_up_without_a_person_appends_the_earlier_names():
    history = ["How much did Iran pay to families in Gaza?"]
    assert resolve_followup("Why did it do that?", history) == "Why did it do that? (Iran, Gaza)"


def test_question_without_history_or_pronoun_is_unchanged():
    assert resolve_followup("Who is Velayati?", None) == "Who is Velayati?"
    assert resolve_followup("Who is Velayati?", ["Who led the delegation?"]) == "Who is Velayati?"


def test_history_accepts_pairs_and_rejects_garbage():
    assert normalise_history([("q?", "a.")]) == [{"role": "user", "content": "q?"},
                                                 {"role": "assistant", "content": "a."}]
    import pytest

    with pytest.raises(ValueError):
        normalise_history([{"role": "system"}])
    with pytest.raises(ValueError):
        normalise_history([42])


def test_a_reason_must_explain_the_asked_effect():
    s = "Haniyeh was unable to attend the meeting because Egypt refused to allow him to leave Gaza Strip."
    q = "Why was Haniyeh unable to attend the meeting?"
    assert answer_items(s, classify(q), q) == ["because"]
    q = "Why did Egypt refuse to let Haniyeh leave Gaza?"  # the sentence gives no reason for this
    assert answer_items(s, classify(q), q) == []


def test_first_name_questions_read_the_given_name_of_the_surname():
    q = "What is the first name of delegation member Hamdan?"
    assert classify(q).kind == "name_part"
    assert answer_items("It included Maher Salah, Usama Hamdan and Ismail Radwan.", classify(q), q) == ["Usama"]


def test_which_noun_questions_want_a_name_by_that_noun_where_the_sentence_has_it():
    q = "Which model of suicide drone did Iran promise?"
    far = "Iran promised Kornet missiles, shoulder-fired missiles and suicide drones."
    assert answer_items(far, classify(q), q) == []
    assert answer_items("Iran promised the Shahed drone model to them.", classify(q), q) == ["Shahed"]


def test_the_surname_is_the_last_capitalised_word_of_the_question():
    assert classify("How is the first name of Hamas delegation member Hamdan spelled?").focus == "hamdan"


def test_where_answers_are_locative_names_or_place_phrases_never_people_or_subjects():
    q = "Where was the press release published?"
    assert answer_items("It said so in a press release on Khamenei's website.", classify(q), q) == [
        "on Khamenei's website"]
    q = "Where did the diplomats meet?"
    assert answer_items("The diplomats met shortly afterwards in Beirut.", classify(q), q) == ["Beirut"]
    assert answer_items("Tehran backs the group, said Ali Khamenei.", classify(q), q) == []


def test_a_place_the_question_names_is_not_an_answer_in_another_form():
    q = "Which country did Hamas's leaders move to after they left Syria?"
    sentence = "The Syrians cut their relations with the movement, forcing its leaders to leave."
    assert answer_items(sentence, classify(q), q) == []
    moved = "Its leaders moved to Qatar after the Syrians cut relations."
    assert answer_items(moved, classify(q), q) == ["Qatar"]


def test_a_possessive_or_a_month_abbreviation_is_no_place():
    q = "Where will the plan be unveiled?"
    sentence = "The plan is set to be unveiled after Israel's elections Sept. 17 in Bahrain."
    assert answer_items(sentence, classify(q), q) == ["Bahrain"]


def test_dates_with_an_era_and_centuries_however_capitalised():
    assert T.dates("From the death of Augustus in AD 14 until after AD 70, Rome held the river.") == ["AD 14", "AD 70"]
    assert T.dates("The town was founded in 58 BC.") == ["58 BC"]
    assert T.dates("It changed in the 20th Century and again in the twenty-first century.") == [
        "20th Century", "twenty-first century"]
    assert T.dates("At 14 ADs the count was 300.") == []  # a word that begins like an era is not one


def test_how_long_is_asks_a_length_or_a_span():
    q = "How long is the new bypass road?"
    assert classify(q) == QuestionType("duration", detail="length")
    assert answer_items("The bypass is nearly 86 km long and cost a fortune.", classify(q), q) == ["86 km"]
    assert answer_items("The ceasefire is to last three months.", classify(q), q) == ["three months"]
    span = "How long did the siege last?"
    assert classify(span).detail is None
    assert answer_items("The siege, 40 km from the coast, lasted three months.", classify(span), span) == [
        "three months"]
