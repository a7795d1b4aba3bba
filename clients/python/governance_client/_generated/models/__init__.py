"""Contains all the data models used in inputs/outputs"""

from .action import Action
from .action_properties_type_0 import ActionPropertiesType0
from .break_glass_body import BreakGlassBody
from .budget_out import BudgetOut
from .budget_out_client_type_0 import BudgetOutClientType0
from .budget_out_purpose import BudgetOutPurpose
from .bulk_check_body import BulkCheckBody
from .bulk_check_out import BulkCheckOut
from .bulk_check_out_results import BulkCheckOutResults
from .business_entry import BusinessEntry
from .certificate_out import CertificateOut
from .check_out import CheckOut
from .consent_event_out import ConsentEventOut
from .consent_event_out_evidence import ConsentEventOutEvidence
from .consent_iso_27560_api_context_consents_iso_27560_context_jsonld_get_response_200 import (
    ConsentIso27560ApiContextConsentsIso27560ContextJsonldGetResponse200,
)
from .consent_iso_27560_api_export_records_subjects_subject_id_consents_iso_27560_get_response_200 import (
    ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200,
)
from .create_subject_body import CreateSubjectBody
from .create_subject_body_profile_type_0 import CreateSubjectBodyProfileType0
from .dashboard_link_out import DashboardLinkOut
from .dataset_spec_body import DatasetSpecBody
from .dataset_spec_body_format import DatasetSpecBodyFormat
from .dataset_spec_body_mode import DatasetSpecBodyMode
from .dataset_spec_body_pseudonyms import DatasetSpecBodyPseudonyms
from .dataset_spec_in import DatasetSpecIn
from .decision_body import DecisionBody
from .decision_body_decision import DecisionBodyDecision
from .decision_out import DecisionOut
from .decision_out_context_type_0 import DecisionOutContextType0
from .decisions_out import DecisionsOut
from .decisions_out_context_type_0 import DecisionsOutContextType0
from .download_link_out import DownloadLinkOut
from .dp_query_body import DPQueryBody
from .dp_query_body_over import DPQueryBodyOver
from .dp_query_body_statistic import DPQueryBodyStatistic
from .dp_query_out import DPQueryOut
from .dp_query_out_result import DPQueryOutResult
from .dp_query_preview_body import DPQueryPreviewBody
from .dp_query_preview_body_over import DPQueryPreviewBodyOver
from .dp_query_preview_body_statistic import DPQueryPreviewBodyStatistic
from .drp_agent_information_agent_agent_id_get_response_200 import DrpAgentInformationAgentAgentIdGetResponse200
from .drp_error import DrpError
from .entity import Entity
from .entity_properties_type_0 import EntityPropertiesType0
from .error_body import ErrorBody
from .error_body_fields_type_0 import ErrorBodyFieldsType0
from .evaluation_request import EvaluationRequest
from .evaluation_request_context_type_0 import EvaluationRequestContextType0
from .evaluations_options import EvaluationsOptions
from .evaluations_options_evaluations_semantic import EvaluationsOptionsEvaluationsSemantic
from .evaluations_request import EvaluationsRequest
from .evaluations_request_context_type_0 import EvaluationsRequestContextType0
from .event_batch_body import EventBatchBody
from .event_batch_body_events_item import EventBatchBodyEventsItem
from .event_rejection_out import EventRejectionOut
from .evidence_body import EvidenceBody
from .file_request_body import FileRequestBody
from .file_request_body_fields_type_0 import FileRequestBodyFieldsType0
from .get_healthz_response_200 import GetHealthzResponse200
from .get_readyz_response_200 import GetReadyzResponse200
from .get_readyz_response_200_checks import GetReadyzResponse200Checks
from .get_readyz_response_200_status import GetReadyzResponse200Status
from .get_readyz_response_503 import GetReadyzResponse503
from .get_readyz_response_503_checks import GetReadyzResponse503Checks
from .get_readyz_response_503_status import GetReadyzResponse503Status
from .gpc_support import GpcSupport
from .history_out import HistoryOut
from .import_body import ImportBody
from .import_body_format import ImportBodyFormat
from .import_out import ImportOut
from .import_out_report_type_0 import ImportOutReportType0
from .import_rejected_out import ImportRejectedOut
from .import_rejected_out_fields_type_0 import ImportRejectedOutFieldsType0
from .intake_out import IntakeOut
from .intake_out_by_category import IntakeOutByCategory
from .job_out import JobOut
from .job_out_result_type_0 import JobOutResultType0
from .jwk_set import JwkSet
from .jwk_set_keys_item import JwkSetKeysItem
from .label_in import LabelIn
from .link_out import LinkOut
from .lookup_body import LookupBody
from .metadata import Metadata
from .mixed_event_batch_body import MixedEventBatchBody
from .mixed_event_batch_body_events_item import MixedEventBatchBodyEventsItem
from .mixed_intake_out import MixedIntakeOut
from .mixed_intake_out_by_category import MixedIntakeOutByCategory
from .notice_out import NoticeOut
from .o_auth_error import OAuthError
from .objection_body import ObjectionBody
from .objection_out import ObjectionOut
from .partial_evaluation import PartialEvaluation
from .partial_evaluation_context_type_0 import PartialEvaluationContextType0
from .permission_out import PermissionOut
from .post_oauth_introspect_body import PostOauthIntrospectBody
from .post_oauth_introspect_response_200 import PostOauthIntrospectResponse200
from .post_oauth_revoke_body import PostOauthRevokeBody
from .post_oauth_revoke_response_200 import PostOauthRevokeResponse200
from .post_oauth_token_body import PostOauthTokenBody
from .post_oauth_token_body_grant_type import PostOauthTokenBodyGrantType
from .post_oauth_token_response_200 import PostOauthTokenResponse200
from .preview_out import PreviewOut
from .preview_out_budget import PreviewOutBudget
from .preview_out_expected_accuracy import PreviewOutExpectedAccuracy
from .privacy_in import PrivacyIn
from .profile_body import ProfileBody
from .profile_body_fields import ProfileBodyFields
from .profile_changed_out import ProfileChangedOut
from .profile_out import ProfileOut
from .profile_out_event_counts_type_0 import ProfileOutEventCountsType0
from .profile_out_fields_type_0 import ProfileOutFieldsType0
from .profile_out_view import ProfileOutView
from .purpose_list import PurposeList
from .purpose_out import PurposeOut
from .purpose_state_out import PurposeStateOut
from .receipt_out import ReceiptOut
from .receipt_out_receipt import ReceiptOutReceipt
from .receipts_out import ReceiptsOut
from .receipts_out_receipts_item import ReceiptsOutReceiptsItem
from .record_decisions_body import RecordDecisionsBody
from .recorded_out import RecordedOut
from .release_out import ReleaseOut
from .release_out_manifest_type_0 import ReleaseOutManifestType0
from .release_out_progress_type_0 import ReleaseOutProgressType0
from .request_list import RequestList
from .request_out import RequestOut
from .request_out_extensions_item import RequestOutExtensionsItem
from .request_out_items_item import RequestOutItemsItem
from .request_out_params import RequestOutParams
from .requests_api_certificate_keys_requests_certificate_keys_get_response_200 import (
    RequestsApiCertificateKeysRequestsCertificateKeysGetResponse200,
)
from .requests_api_export_schema_requests_export_schema_get_response_200 import (
    RequestsApiExportSchemaRequestsExportSchemaGetResponse200,
)
from .state_out import StateOut
from .status_out import StatusOut
from .subject_out import SubjectOut
from .synthetic_spec_body import SyntheticSpecBody
from .synthetic_spec_body_format import SyntheticSpecBodyFormat
from .training_api_download_model_card_training_downloads_token_model_card_get_response_200 import (
    TrainingApiDownloadModelCardTrainingDownloadsTokenModelCardGetResponse200,
)
from .training_api_model_card_training_jobs_job_id_model_card_get_response_200 import (
    TrainingApiModelCardTrainingJobsJobIdModelCardGetResponse200,
)
from .training_in import TrainingIn
from .training_job_in import TrainingJobIn
from .training_job_in_kind import TrainingJobInKind
from .training_job_list import TrainingJobList
from .training_job_out import TrainingJobOut
from .training_job_out_metrics_type_0 import TrainingJobOutMetricsType0
from .training_job_out_progress_type_0 import TrainingJobOutProgressType0
from .training_job_out_release_type_0 import TrainingJobOutReleaseType0
from .training_preview_in import TrainingPreviewIn
from .training_preview_in_kind import TrainingPreviewInKind
from .vault_api_read_profile_subjects_subject_id_profile_get_view_type_0 import (
    VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0,
)
from .verify_body import VerifyBody
from .verify_out import VerifyOut
from .verify_out_receipt_type_0 import VerifyOutReceiptType0

__all__ = (
    "Action",
    "ActionPropertiesType0",
    "BreakGlassBody",
    "BudgetOut",
    "BudgetOutClientType0",
    "BudgetOutPurpose",
    "BulkCheckBody",
    "BulkCheckOut",
    "BulkCheckOutResults",
    "BusinessEntry",
    "CertificateOut",
    "CheckOut",
    "ConsentEventOut",
    "ConsentEventOutEvidence",
    "ConsentIso27560ApiContextConsentsIso27560ContextJsonldGetResponse200",
    "ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200",
    "CreateSubjectBody",
    "CreateSubjectBodyProfileType0",
    "DashboardLinkOut",
    "DatasetSpecBody",
    "DatasetSpecBodyFormat",
    "DatasetSpecBodyMode",
    "DatasetSpecBodyPseudonyms",
    "DatasetSpecIn",
    "DecisionBody",
    "DecisionBodyDecision",
    "DecisionOut",
    "DecisionOutContextType0",
    "DecisionsOut",
    "DecisionsOutContextType0",
    "DownloadLinkOut",
    "DPQueryBody",
    "DPQueryBodyOver",
    "DPQueryBodyStatistic",
    "DPQueryOut",
    "DPQueryOutResult",
    "DPQueryPreviewBody",
    "DPQueryPreviewBodyOver",
    "DPQueryPreviewBodyStatistic",
    "DrpAgentInformationAgentAgentIdGetResponse200",
    "DrpError",
    "Entity",
    "EntityPropertiesType0",
    "ErrorBody",
    "ErrorBodyFieldsType0",
    "EvaluationRequest",
    "EvaluationRequestContextType0",
    "EvaluationsOptions",
    "EvaluationsOptionsEvaluationsSemantic",
    "EvaluationsRequest",
    "EvaluationsRequestContextType0",
    "EventBatchBody",
    "EventBatchBodyEventsItem",
    "EventRejectionOut",
    "EvidenceBody",
    "FileRequestBody",
    "FileRequestBodyFieldsType0",
    "GetHealthzResponse200",
    "GetReadyzResponse200",
    "GetReadyzResponse200Checks",
    "GetReadyzResponse200Status",
    "GetReadyzResponse503",
    "GetReadyzResponse503Checks",
    "GetReadyzResponse503Status",
    "GpcSupport",
    "HistoryOut",
    "ImportBody",
    "ImportBodyFormat",
    "ImportOut",
    "ImportOutReportType0",
    "ImportRejectedOut",
    "ImportRejectedOutFieldsType0",
    "IntakeOut",
    "IntakeOutByCategory",
    "JobOut",
    "JobOutResultType0",
    "JwkSet",
    "JwkSetKeysItem",
    "LabelIn",
    "LinkOut",
    "LookupBody",
    "Metadata",
    "MixedEventBatchBody",
    "MixedEventBatchBodyEventsItem",
    "MixedIntakeOut",
    "MixedIntakeOutByCategory",
    "NoticeOut",
    "OAuthError",
    "ObjectionBody",
    "ObjectionOut",
    "PartialEvaluation",
    "PartialEvaluationContextType0",
    "PermissionOut",
    "PostOauthIntrospectBody",
    "PostOauthIntrospectResponse200",
    "PostOauthRevokeBody",
    "PostOauthRevokeResponse200",
    "PostOauthTokenBody",
    "PostOauthTokenBodyGrantType",
    "PostOauthTokenResponse200",
    "PreviewOut",
    "PreviewOutBudget",
    "PreviewOutExpectedAccuracy",
    "PrivacyIn",
    "ProfileBody",
    "ProfileBodyFields",
    "ProfileChangedOut",
    "ProfileOut",
    "ProfileOutEventCountsType0",
    "ProfileOutFieldsType0",
    "ProfileOutView",
    "PurposeList",
    "PurposeOut",
    "PurposeStateOut",
    "ReceiptOut",
    "ReceiptOutReceipt",
    "ReceiptsOut",
    "ReceiptsOutReceiptsItem",
    "RecordDecisionsBody",
    "RecordedOut",
    "ReleaseOut",
    "ReleaseOutManifestType0",
    "ReleaseOutProgressType0",
    "RequestList",
    "RequestOut",
    "RequestOutExtensionsItem",
    "RequestOutItemsItem",
    "RequestOutParams",
    "RequestsApiCertificateKeysRequestsCertificateKeysGetResponse200",
    "RequestsApiExportSchemaRequestsExportSchemaGetResponse200",
    "StateOut",
    "StatusOut",
    "SubjectOut",
    "SyntheticSpecBody",
    "SyntheticSpecBodyFormat",
    "TrainingApiDownloadModelCardTrainingDownloadsTokenModelCardGetResponse200",
    "TrainingApiModelCardTrainingJobsJobIdModelCardGetResponse200",
    "TrainingIn",
    "TrainingJobIn",
    "TrainingJobInKind",
    "TrainingJobList",
    "TrainingJobOut",
    "TrainingJobOutMetricsType0",
    "TrainingJobOutProgressType0",
    "TrainingJobOutReleaseType0",
    "TrainingPreviewIn",
    "TrainingPreviewInKind",
    "VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0",
    "VerifyBody",
    "VerifyOut",
    "VerifyOutReceiptType0",
)
