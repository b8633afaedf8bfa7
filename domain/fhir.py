"""A course as a FHIR R4B Bundle, built and validated with `fhir.resources.R4B`.

One small function per resource type. Every resource of the course refers to the others by
`Type/id`, and each entry's `fullUrl` is `<base>/Type/id`, so every reference resolves within the
Bundle. The patient is `Patient/<patient_ref>`, pseudonymous: a name, birth date and contacts
appear only when the caller passes the patient's contact details (its scope allows PHI), and so
do the free texts (resolution notes, the reminders' wording, why the course ended).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from domain.chart import (
    CourseChart,
    DoseEntry,
    EscalationEntry,
    Handled,
    ReadingEntry,
    ReminderEntry,
    SessionEntry,
)
from domain.conditions import Level
from domain.course import CourseStatus, PatientContact, Phase
from domain.escalation import EscalationStatus, Severity
from domain.notices import Channel
from domain.observations import LOCAL_SYSTEM, LOINC_SYSTEM, LocalCode
from domain.protocol import LABEL_MIN_MONITORING_MINUTES
from domain.records import SessionEvent
from domain.scales import Scale, Score
from domain.session import Stage
from domain.vitals import Loinc

FHIR_JSON = "application/fhir+json"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
SECURITY = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"

PATIENT_REF_SYSTEM = "urn:trdflow:patient-ref"
COURSE_SYSTEM = "urn:trdflow:course"
CLINIC_SYSTEM = "urn:trdflow:clinic"
ACTOR_SYSTEM = "urn:trdflow:actor"
READING_SYSTEM = "urn:trdflow:reading"
SESSION_SYSTEM = "urn:trdflow:session"
ESCALATION_SYSTEM = "urn:trdflow:escalation"
CONDITION_SYSTEM = "urn:trdflow:condition"
"""The escalation conditions (`domain.conditions.Condition` and the course's own)."""

NASAL_ROUTE = {"system": SNOMED, "code": "46713006", "display": "Nasal route"}
ESKETAMINE = {"system": RXNORM, "code": "2201623", "display": "esketamine Nasal Spray"}
MONITORING = timedelta(minutes=LABEL_MIN_MONITORING_MINUTES)
"""A session's planned end, until its discharge: the label's least monitoring."""
_IDS = uuid.UUID("4f1c3a52-8f0e-4d57-9a37-2b7f6d1f0e11")
"""The namespace of the resources' ids: the same record always gets the same id."""

_APPOINTMENT_STATUS = {
    Stage.SCHEDULED: "booked",
    Stage.PRE_DOSE_VITALS: "checked-in",
    Stage.HELD: "checked-in",
    Stage.READY_TO_DOSE: "checked-in",
    Stage.MONITORING: "checked-in",
    Stage.DISCHARGED: "fulfilled",
    Stage.NOT_DOSED: "fulfilled",
}
_CARE_PLAN_STATUS = {
    Phase.COMPLETED: "completed",
    Phase.DISCONTINUED: "revoked",
    Phase.INELIGIBLE: "revoked",
}
_INTERPRETATION = {
    Level.NORMAL: ("N", "Normal"),
    Level.HOLD: ("H", "High"),
    Level.ROUTINE: ("A", "Abnormal"),
    Level.URGENT: ("AA", "Critical abnormal"),
    Level.CRITICAL: ("AA", "Critical abnormal"),
}
_ISSUE_SEVERITY = {Severity.CRITICAL: "high", Severity.URGENT: "moderate", Severity.ROUTINE: "low"}
_MEDIUM = {Channel.SMS: ("SMSWRIT", "SMS written"), Channel.EMAIL: ("EMAILWRIT", "email")}
_REMINDER_STATUS = {"pending": "active", "sent": "completed", "failed": "revoked"}


def course_bundle(
    chart: CourseChart,
    status: CourseStatus,
    *,
    base: str,
    at: datetime,
    contact: PatientContact | None = None,
) -> Bundle:
    """The course's Bundle (type `collection`) as it stood `at`, its entries' full URLs under
    `base` (the FHIR endpoint's URL). `contact`: the patient's PHI, for a caller whose
    scope allows it; without it the patient is their pseudonymous ref only."""
    resources: list[DomainResource] = [
        patient(chart.patient_ref, chart.clinic_id, contact),
        care_plan(chart, status, contact is not None),
    ]
    resources += [appointment(chart, s) for s in chart.sessions]
    resources += [o for r in chart.readings for o in vitals(chart, r)]
    resources += [phq9(chart, label, score) for label, score in _phq9_scores(status)]
    resources += [medication(chart, d.given.lot) for d in _one_per_lot(chart.doses)]
    resources += [administration(chart, d) for d in chart.doses]
    for escalation in chart.escalations:
        resources += [flag(chart, escalation), issue(chart, escalation, contact is not None)]
    resources += [reminder(chart, r, contact is not None) for r in chart.reminders]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": resource_id(chart, "bundle"),
            "type": "collection",
            "timestamp": _at(at),
            "entry": [
                {"fullUrl": f"{base}/{r.get_resource_type()}/{r.id}", "resource": r}
                for r in resources
            ],
        }
    )


def patient(patient_ref: str, clinic_id: str, contact: PatientContact | None) -> Patient:
    found: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_ref,
        "identifier": [{"system": PATIENT_REF_SYSTEM, "value": patient_ref}],
        "managingOrganization": _clinic(clinic_id),
    }
    if contact is None:
        # Said so: an EHR must not read the missing name as an unknown one.
        found["meta"] = {"security": [{"system": SECURITY, "code": "REDACTED"}]}
    else:
        telecom = [{"system": "phone", "value": contact.phone, "use": "mobile"}]
        if contact.email is not None:
            telecom.append({"system": "email", "value": contact.email})
        found |= {
            "name": [{"text": contact.name}],
            "birthDate": contact.date_of_birth.isoformat(),
            "telecom": telecom,
        }
    return Patient.model_validate(found)


def care_plan(chart: CourseChart, status: CourseStatus, phi: bool) -> CarePlan:
    """The course: its sessions and reminders are the plan's activities. Why it ended may be a
    clinician's free text: shown only with PHI."""
    activities = [_ref("Appointment", appointment_id(chart, s.number)) for s in chart.sessions]
    activities += [_ref("CommunicationRequest", reminder_id(chart, r)) for r in chart.reminders]
    return CarePlan.model_validate(
        {
            "resourceType": "CarePlan",
            "id": chart.course_id,
            "identifier": [{"system": COURSE_SYSTEM, "value": chart.course_id}],
            "status": _CARE_PLAN_STATUS.get(status.phase, "active"),
            "intent": "plan",
            "title": f"Esketamine nasal spray course ({chart.indication.value})",
            "description": (
                f"Phase {status.phase.value}; protocol {chart.protocol_version}; "
                f"{status.sessions_done} sessions done"
                + (f"; {status.final_reason}" if status.final_reason and phi else "")
            ),
            "subject": _patient(chart),
            "period": {"start": _at(chart.registered_at)},
            "author": _clinic(chart.clinic_id),
            "activity": [{"reference": a} for a in activities],
        }
    )


def appointment(chart: CourseChart, session: SessionEntry) -> Appointment:
    if session.stage is Stage.CLOSED:
        state = "noshow" if session.last_event is SessionEvent.MISSED else "cancelled"
    else:
        state = _APPOINTMENT_STATUS[session.stage]
    found: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment_id(chart, session.number),
        "identifier": [_session_identifier(chart, session.number)],
        "status": state,
        "description": f"Esketamine session {session.number}",
        "participant": [{"actor": _patient(chart), "status": "accepted"}],
    }
    if session.scheduled_at is not None:
        # Both or neither (app-2): until the discharge, the end is the label's 2 hours.
        end = session.discharged_at or session.scheduled_at + MONITORING
        found |= {"start": _at(session.scheduled_at), "end": _at(end)}
    return Appointment.model_validate(found)


def vitals(chart: CourseChart, reading: ReadingEntry) -> list[Observation]:
    """A reading's observations: the BP panel with its two components, then one per other
    sign it holds."""
    signs = reading.signs
    found = []
    if signs.systolic is not None and signs.diastolic is not None:
        found.append(
            _vital(
                chart,
                reading,
                Loinc.BP_PANEL,
                "Blood pressure panel",
                components=[
                    _component(reading, Loinc.SYSTOLIC, "Systolic BP", signs.systolic, "mm[Hg]"),
                    _component(reading, Loinc.DIASTOLIC, "Diastolic BP", signs.diastolic, "mm[Hg]"),
                ],
            )
        )
    singles = (
        (LOINC_SYSTEM, Loinc.HEART_RATE, "Heart rate", signs.heart_rate, "/min"),
        (LOINC_SYSTEM, Loinc.SPO2, "Oxygen saturation (pulse oximetry)", signs.spo2, "%"),
        (LOCAL_SYSTEM, LocalCode.MOAAS, "MOAA/S sedation", signs.moaas, "{score}"),
        (LOCAL_SYSTEM, LocalCode.CADSS, "CADSS dissociation", signs.cadss, "{score}"),
    )
    for system, code, display, value, unit in singles:
        if value is not None:
            quantity = _quantity(value, unit)
            found.append(_vital(chart, reading, code, display, system, quantity=quantity))
    if signs.hypertensive_crisis_symptoms:
        code, display = LocalCode.HYPERTENSIVE_CRISIS_SYMPTOMS, "Hypertensive crisis symptoms"
        found.append(_vital(chart, reading, code, display, LOCAL_SYSTEM, present=True))
    return found


def phq9(chart: CourseChart, label: str, score: Score) -> Observation:
    """A PHQ-9 total, with item 9 (self-harm) as a component when it was answered."""
    found: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id(chart, "phq9", label),
        "status": "final",
        "category": [_category("survey", "Survey")],
        "code": _code(LOINC_SYSTEM, Loinc.PHQ9_TOTAL, "PHQ-9 total score"),
        "subject": _patient(chart),
        "basedOn": [_care_plan(chart)],
        "valueInteger": score.total,
        "note": [{"text": f"{label} score"}],
    }
    if score.taken_at is not None:
        found["effectiveDateTime"] = _at(score.taken_at)
    if score.item9 is not None:
        found["component"] = [
            {
                "code": _code(LOINC_SYSTEM, Loinc.PHQ9_ITEM9, "PHQ-9 item 9"),
                "valueInteger": score.item9,
            }
        ]
    return Observation.model_validate(found)


def medication(chart: CourseChart, lot: str) -> Medication:
    """The esketamine of one lot: the lot number lives on the medication's batch."""
    return Medication.model_validate(
        {
            "resourceType": "Medication",
            "id": medication_id(chart, lot),
            "code": {"coding": [ESKETAMINE], "text": "esketamine 28 mg nasal spray device"},
            "form": {"text": "nasal spray"},
            "batch": {"lotNumber": lot},
        }
    )


def administration(chart: CourseChart, dose: DoseEntry) -> MedicationAdministration:
    given = dose.given
    used = ", ".join(_at(at) for at in given.device_times)
    return MedicationAdministration.model_validate(
        {
            "resourceType": "MedicationAdministration",
            "id": resource_id(chart, "dose", str(dose.session)),
            "identifier": [_session_identifier(chart, dose.session)],
            "status": "completed",
            "medicationReference": _ref("Medication", medication_id(chart, given.lot)),
            "subject": _patient(chart),
            "supportingInformation": [_ref("Appointment", appointment_id(chart, dose.session))],
            "effectivePeriod": {
                "start": _at(given.device_times[0]),
                "end": _at(given.device_times[-1]),
            },
            "performer": [{"actor": _actor(given.by)}],
            "note": [{"text": f"{given.devices} devices of 28 mg, lot {given.lot}, at {used}"}],
            "dosage": {
                "text": f"{given.dose_mg} mg: {given.devices} nasal spray devices of 28 mg",
                "route": {"coding": [NASAL_ROUTE]},
                "dose": _quantity(given.dose_mg, "mg"),
            },
        }
    )


def flag(chart: CourseChart, escalation: EscalationEntry) -> Flag:
    found: dict[str, Any] = {
        "resourceType": "Flag",
        "id": resource_id(chart, "flag", escalation.escalation_id),
        "identifier": [{"system": ESCALATION_SYSTEM, "value": escalation.escalation_id}],
        "status": "inactive" if _resolved(escalation) else "active",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "clinical",
                        "display": "Clinical",
                    }
                ]
            }
        ],
        "code": _condition(escalation),
        "subject": _patient(chart),
        "period": {"start": _at(escalation.trigger.raised_at)},
    }
    if escalation.resolved_at is not None:
        found["period"]["end"] = _at(escalation.resolved_at)
    return Flag.model_validate(found)


def issue(chart: CourseChart, escalation: EscalationEntry, phi: bool) -> DetectedIssue:
    """The escalation as a clinical issue: its severity, the reading that raised it, and what
    on-call staff did about it."""
    found: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": resource_id(chart, "issue", escalation.escalation_id),
        "identifier": [{"system": ESCALATION_SYSTEM, "value": escalation.escalation_id}],
        "status": "final" if _resolved(escalation) else "preliminary",
        "code": _condition(escalation),
        "severity": _ISSUE_SEVERITY[escalation.trigger.severity],
        "patient": _patient(chart),
        "identifiedDateTime": _at(escalation.trigger.raised_at),
        "detail": escalation.trigger.summary,
        "implicated": [_ref("Observation", i) for i in _implicated(chart, escalation)],
        "mitigation": [_mitigation(step, phi) for step in escalation.handled],
    }
    return DetectedIssue.model_validate(found)


def reminder(chart: CourseChart, sent: ReminderEntry, phi: bool) -> CommunicationRequest:
    code, display = _MEDIUM[sent.channel]
    found: dict[str, Any] = {
        "resourceType": "CommunicationRequest",
        "id": reminder_id(chart, sent),
        "status": _REMINDER_STATUS.get(sent.status, "unknown"),
        "category": [{"text": f"{sent.hours_before} h session reminder"}],
        "subject": _patient(chart),
        "recipient": [_patient(chart)],
        "about": [_ref("Appointment", appointment_id(chart, sent.session))],
        "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": code, "display": display}]}],
        "authoredOn": _at(sent.created_at),
    }
    if sent.sent_at is not None:
        found["occurrenceDateTime"] = _at(sent.sent_at)
    if phi:
        found["payload"] = [{"contentString": sent.body}]
    return CommunicationRequest.model_validate(found)


# --- Ids and references ------------------------------------------------------------------------


def resource_id(chart: CourseChart, *parts: str) -> str:
    """A stable id for one record of the course (a course id is too long to prefix FHIR's 64)."""
    return str(uuid.uuid5(_IDS, "/".join((chart.course_id, *parts))))


def appointment_id(chart: CourseChart, session: int) -> str:
    return resource_id(chart, "session", str(session))


def medication_id(chart: CourseChart, lot: str) -> str:
    return resource_id(chart, "medication", lot)


def reminder_id(chart: CourseChart, sent: ReminderEntry) -> str:
    hours, at = f"{sent.hours_before}h", sent.created_at.isoformat()
    return resource_id(chart, "reminder", str(sent.session), hours, sent.channel, at)


def _ref(resource_type: str, resource_id: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{resource_id}"}


def _patient(chart: CourseChart) -> dict[str, str]:
    return _ref("Patient", chart.patient_ref)


def _care_plan(chart: CourseChart) -> dict[str, str]:
    return _ref("CarePlan", chart.course_id)


def _clinic(clinic_id: str) -> dict[str, Any]:
    """The clinic by its identifier: there is no Organization resource to point at."""
    return {"identifier": {"system": CLINIC_SYSTEM, "value": clinic_id}}


def _actor(name: str) -> dict[str, Any]:
    return {"identifier": {"system": ACTOR_SYSTEM, "value": name}}


# --- Pieces ------------------------------------------------------------------------------------


def _at(when: datetime) -> str:
    return when.isoformat()


def _code(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}


def _quantity(value: int, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _session_identifier(chart: CourseChart, session: int) -> dict[str, str]:
    return {"system": SESSION_SYSTEM, "value": f"{chart.course_id}/{session}"}


def _implicated(chart: CourseChart, escalation: EscalationEntry) -> list[str]:
    """The observations of the reading that raised the escalation about its condition (all of
    the reading's, where no judgement of its signs was recorded)."""
    reading = next((r for r in chart.readings if r.id == escalation.trigger.reading_id), None)
    if reading is None:
        return []
    found = [o for o in vitals(chart, reading) if o.id is not None]
    named = [o for o in found if escalation.trigger.condition in _conditions(reading, o)]
    return [str(o.id) for o in named or found]


def _conditions(reading: ReadingEntry, observation: Observation) -> set[str]:
    """The conditions found about the observation's sign, or its components' (the BP panel)."""
    concepts = [observation.code, *(c.code for c in observation.component or ())]
    codes = {coding.code for concept in concepts for coding in concept.coding or ()}
    return {c for code in codes if (j := reading.judged.get(str(code))) for c in j.conditions}


def _interpretation(reading: ReadingEntry, code: str) -> list[dict[str, Any]]:
    judgement = reading.judged.get(code)
    if judgement is None:
        return []
    found, display = _INTERPRETATION[judgement.level]
    return [{"coding": [{"system": INTERPRETATION, "code": found, "display": display}]}]


def _component(
    reading: ReadingEntry, code: str, display: str, value: int, unit: str
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "code": _code(LOINC_SYSTEM, code, display),
        "valueQuantity": _quantity(value, unit),
    }
    if interpretation := _interpretation(reading, code):
        found["interpretation"] = interpretation
    return found


def _vital(
    chart: CourseChart,
    reading: ReadingEntry,
    code: str,
    display: str,
    system: str = LOINC_SYSTEM,
    *,
    quantity: dict[str, Any] | None = None,
    components: Sequence[dict[str, Any]] = (),
    present: bool = False,
) -> Observation:
    found: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id(chart, "reading", str(reading.id), code),
        "identifier": [{"system": READING_SYSTEM, "value": str(reading.id)}],
        "status": "final",
        "category": [_category("vital-signs", "Vital Signs")],
        "code": _code(system, code, display),
        "subject": _patient(chart),
        "basedOn": [_care_plan(chart)],
        "effectiveDateTime": _at(reading.signs.taken_at),
        "issued": _at(reading.received_at),
    }
    if quantity is not None:
        found["valueQuantity"] = quantity
    if present:
        found["valueBoolean"] = True
    if components:
        found["component"] = list(components)
    if interpretation := _interpretation(reading, code):
        found["interpretation"] = interpretation
    return Observation.model_validate(found)


def _phq9_scores(status: CourseStatus) -> list[tuple[str, Score]]:
    """The course keeps the baseline and the latest score of each scale."""
    baseline, latest = status.baseline.get(Scale.PHQ9), status.latest_scores.get(Scale.PHQ9)
    found = [] if baseline is None else [("baseline", baseline)]
    if latest is not None and latest != baseline:
        found.append(("latest", latest))
    return found


def _one_per_lot(doses: Iterable[DoseEntry]) -> list[DoseEntry]:
    return list({d.given.lot: d for d in doses}.values())


def _resolved(escalation: EscalationEntry) -> bool:
    return escalation.status is EscalationStatus.RESOLVED


def _condition(escalation: EscalationEntry) -> dict[str, Any]:
    trigger = escalation.trigger
    return {
        "coding": [{"system": CONDITION_SYSTEM, "code": trigger.condition}],
        "text": f"{trigger.severity.value}: {trigger.summary}",
    }


def _mitigation(step: Handled, phi: bool) -> dict[str, Any]:
    text = step.action.value if step.note is None or not phi else f"{step.action}: {step.note}"
    found: dict[str, Any] = {"action": {"text": text}, "date": _at(step.at)}
    if step.by is not None:
        found["author"] = _actor(step.by)
    return found
